'use strict';
// Sample Lambda handler, written to the Node.js 14 subset (ECMAScript 2020 syntax, CommonJS, no API newer
// than Node 14): the function test checks the syntax with a parser at ecmaVersion 2020, so this code runs
// unchanged on Node 14 and on the runtime the function stack deploys (docs/lambda.md).

const MAX_NAME_LENGTH = 64;

function respond(statusCode, body) {
  return {
    statusCode,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  };
}

function greeting(event) {
  // ES2020 (optional chaining, nullish coalescing) is within Node 14.
  const name = event?.queryStringParameters?.name ?? 'world';
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH) {
    return respond(400, { message: `name must be 1-${MAX_NAME_LENGTH} characters` });
  }
  return respond(200, { message: `Hello, ${name}!` });
}

exports.handler = async (event, context) => {
  const path = event?.rawPath ?? event?.path ?? '/';
  if (path === '/health') {
    return respond(200, { status: 'ok', version: process.env.AWS_LAMBDA_FUNCTION_VERSION ?? 'local' });
  }
  if (path === '/' || path === '/hello') {
    return greeting(event);
  }
  return respond(404, { message: `no route for ${path}`, requestId: context?.awsRequestId ?? null });
};

exports.greeting = greeting;
