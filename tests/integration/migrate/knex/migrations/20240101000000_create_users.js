exports.up = (knex) => knex.schema.createTable('users', (t) => { t.bigIncrements('id'); t.text('name').notNullable(); });
exports.down = (knex) => knex.schema.dropTable('users');
