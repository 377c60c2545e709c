// node-postgres through the proxy: named and unnamed prepared statements,
// a transaction, and COPY in and out (pg-copy-streams). Connection from the
// PG* environment. Prints one JSON line with what it saw; exits non-zero on
// any error.
'use strict';
const { Client } = require('pg');
const { from: copyFrom, to: copyTo } = require('pg-copy-streams');
const { pipeline } = require('stream/promises');
const { Readable, Writable } = require('stream');

async function main() {
  const client = new Client();
  await client.connect();
  const out = {};
  await client.query('CREATE TABLE node_items (id int PRIMARY KEY, name text, price numeric)');
  // Named prepared statement, executed several times.
  for (let i = 1; i <= 3; i++) {
    await client.query({ name: 'insert_item', text: 'INSERT INTO node_items VALUES ($1, $2, $3)',
                         values: [i, `item ${i}`, i * 1.5] });
  }
  const byId = { name: 'item_by_id', text: 'SELECT name FROM node_items WHERE id = $1' };
  out.named = [];
  for (const id of [1, 3]) out.named.push((await client.query({ ...byId, values: [id] })).rows[0].name);
  // Unnamed, parameterised; a bounded update in a transaction.
  await client.query('BEGIN');
  await client.query('UPDATE node_items SET price = price * $1 WHERE id = $2', [2, 2]);
  await client.query('COMMIT');
  out.price2 = (await client.query('SELECT price FROM node_items WHERE id = $1', [2])).rows[0].price;
  // COPY in: 1000 rows streamed.
  const rows = [];
  for (let i = 100; i < 1100; i++) rows.push(`${i}\tcopied ${i}\t${i}.25\n`);
  await pipeline(Readable.from(rows), client.query(copyFrom('COPY node_items FROM STDIN')));
  out.count = (await client.query('SELECT count(*)::int AS n FROM node_items')).rows[0].n;
  // COPY out: every row back.
  let copied = '';
  await pipeline(client.query(copyTo('COPY (SELECT * FROM node_items ORDER BY id) TO STDOUT')),
                 new Writable({ write(chunk, _enc, done) { copied += chunk; done(); } }));
  out.copied_lines = copied.split('\n').filter((l) => l.length > 0).length;
  out.copied_last = copied.trim().split('\n').pop();
  // A held statement: the error, and the connection goes on.
  try {
    await client.query('DROP TABLE node_items');
    out.drop = 'ran';
  } catch (e) {
    out.drop = e.code;
    out.drop_message = e.message;
  }
  out.after = (await client.query('SELECT count(*)::int AS n FROM node_items')).rows[0].n;
  await client.end();
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
