exports.up = async (knex) => {
  await knex.schema.createTable('posts', (t) => {
    t.increments('id');
    t.integer('user_id').references('users.id');
    t.text('body');
  });
  await knex.schema.alterTable('users', (t) => t.string('name'));
  await knex('users').insert({ email: 'first@example.com', name: 'First' });
};

exports.down = async (knex) => {
  await knex.schema.dropTable('posts');
  await knex.schema.alterTable('users', (t) => t.dropColumn('name'));
};
