import { readFileSync } from 'node:fs';
import t from 'tap';
import { ERRORS, MusterError, UsageError, errorMessage, isMusterError, type ErrorCode } from '../src/errors.js';

// Read from the source: a code written twice in the table is silently merged by
// JavaScript, so only the text shows it.
const SOURCE = readFileSync(new URL('../../src/errors.ts', import.meta.url), 'utf8');
const table = SOURCE.slice(SOURCE.indexOf('export const ERRORS'), SOURCE.indexOf('} as const'));

t.test('every code is declared once', async (t) => {
  const declared = [...table.matchAll(/^\s*(ERR_[A-Z0-9_]+)\s*:/gm)].map((m) => m[1]);
  t.ok(declared.length >= 10, `found the table (${declared.length} codes)`);
  const seen = new Set<string>();
  const twice = declared.filter((c) => (seen.has(c as string) ? true : (seen.add(c as string), false)));
  t.same(twice, [], 'no code appears twice');
  t.same([...seen].sort(), Object.keys(ERRORS).sort(), 'the source and the runtime table agree');
});

t.test('every code is ERR_UPPER_SNAKE with a 4xx or 5xx status', async (t) => {
  for (const [code, { status }] of Object.entries(ERRORS)) {
    t.match(code, /^ERR_[A-Z][A-Z0-9_]*$/, code);
    t.ok(Number.isInteger(status) && status >= 400 && status <= 599, `${code}: ${status}`);
  }
});

t.test('the statuses clients depend on', async (t) => {
  const want: Partial<Record<ErrorCode, number>> = {
    ERR_DECODE: 400, ERR_MISSING_SERVICE_NAME: 400, ERR_INVALID_WAIT: 400, ERR_INVALID_INDEX: 400,
    ERR_UNKNOWN_SERVICE: 404, ERR_NOT_FOUND: 404, ERR_METHOD_NOT_ALLOWED: 405, ERR_BODY_TOO_LARGE: 413,
    ERR_UNKNOWN_DC: 500, ERR_NO_LEADER: 500,
  };
  for (const [code, status] of Object.entries(want)) t.equal(ERRORS[code as ErrorCode].status, status, code);
});

t.test('MusterError takes its status from the table unless told', async (t) => {
  const e = new MusterError('ERR_UNKNOWN_SERVICE', 'unknown service id "x"');
  t.type(e, Error);
  t.match(e, { name: 'MusterError', code: 'ERR_UNKNOWN_SERVICE', status: 404, message: 'unknown service id "x"' });
  t.equal(new MusterError('ERR_BACKEND', 'x', { status: 503 }).status, 503);
  const cause = new Error('root');
  t.equal(new MusterError('ERR_DOCKER', 'wrapped', { cause }).cause, cause);
  t.ok(isMusterError(e));
  t.notOk(isMusterError(new Error('plain')));
});

t.test('UsageError is a MusterError with ERR_USAGE', async (t) => {
  const e = new UsageError('flag provided but not defined: -x');
  t.type(e, MusterError);
  t.match(e, { name: 'UsageError', code: 'ERR_USAGE' });
});

t.test('errorMessage: one line of anything thrown', async (t) => {
  t.equal(errorMessage(new Error('first\nsecond')), 'first');
  t.equal(errorMessage('text'), 'text');
  t.equal(errorMessage(42), '42');
});
