'use strict';
module.exports = {
  async up(queryInterface, Sequelize) {
    await queryInterface.addColumn('Users', 'name', { type: Sequelize.STRING });
    await queryInterface.addIndex('Users', ['name']);
    await queryInterface.bulkInsert('Users', [
      { email: 'a@example.com', name: 'A', createdAt: new Date(), updatedAt: new Date() },
    ]);
  },
  async down(queryInterface) {
    await queryInterface.removeColumn('Users', 'name');
  },
};
