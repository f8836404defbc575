exports.up = (knex) => knex.schema.alterTable('users', (t) => { t.text('email'); });
exports.down = (knex) => knex.schema.alterTable('users', (t) => { t.dropColumn('email'); });
