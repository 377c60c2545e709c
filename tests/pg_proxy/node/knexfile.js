// knex through the proxy: the agent's token as the password, migrations in
// ./knex_migrations, one transaction per run (knex's default).
'use strict';
const path = require('path');

module.exports = {
  client: 'pg',
  connection: {
    host: process.env.PGHOST,
    port: Number(process.env.PGPORT),
    user: process.env.PGUSER,
    password: process.env.PGPASSWORD,
    database: process.env.PGDATABASE,
  },
  pool: { min: 0, max: 2 },
  migrations: { directory: path.join(__dirname, 'knex_migrations'), tableName: 'knex_migrations' },
};
