'use strict';
const { handler } = require('../index');

function body(response) {
  return JSON.parse(response.body);
}

test('health answers ok', async (assert) => {
  const response = await handler({ rawPath: '/health' }, {});
  assert.strictEqual(response.statusCode, 200);
  assert.strictEqual(body(response).status, 'ok');
});

test('greets the world by default', async (assert) => {
  const response = await handler({ rawPath: '/' }, {});
  assert.strictEqual(response.statusCode, 200);
  assert.deepStrictEqual(body(response), { message: 'Hello, world!' });
});

test('greets by name from the query string', async (assert) => {
  const response = await handler({ rawPath: '/hello', queryStringParameters: { name: 'Ada' } }, {});
  assert.strictEqual(body(response).message, 'Hello, Ada!');
});

test('refuses an overlong name', async (assert) => {
  const response = await handler({ path: '/hello', queryStringParameters: { name: 'x'.repeat(65) } }, {});
  assert.strictEqual(response.statusCode, 400);
});

test('unknown paths are 404 with the request id', async (assert) => {
  const response = await handler({ rawPath: '/nope' }, { awsRequestId: 'r-1' });
  assert.strictEqual(response.statusCode, 404);
  assert.strictEqual(body(response).requestId, 'r-1');
});

test('an event without a path is the greeting', async (assert) => {
  const response = await handler(undefined, undefined);
  assert.strictEqual(response.statusCode, 200);
});
