import t from 'tap';
import { parseBool, parseFlags, type FlagSpec, type FlagValue } from '../../src/config/flags.js';
import { UsageError } from '../../src/errors.js';

const SPECS: FlagSpec[] = [
  { name: 'name', kind: 'string', help: '' },
  { name: 'verbose', kind: 'bool', help: '' },
  { name: 'port', kind: 'int', help: '' },
  { name: 'wait', kind: 'duration', help: '' },
  { name: 'join', kind: 'list', help: '' },
  { name: 'datacenter', kind: 'string', help: '', aliases: ['dc'] },
];

function parse(argv: string[]) {
  const r = parseFlags(argv, SPECS);
  return { values: Object.fromEntries(r.values) as Record<string, FlagValue>, args: r.args, help: r.help };
}

t.test('accepted syntax (Go flag package)', async (t) => {
  const cases: Array<{ argv: string[]; values: Record<string, FlagValue>; args?: string[]; help?: boolean }> = [
    { argv: ['-name', 'v'], values: { name: 'v' } },
    { argv: ['-name=v'], values: { name: 'v' } },
    { argv: ['--name', 'v'], values: { name: 'v' } },
    { argv: ['--name=v'], values: { name: 'v' } },
    { argv: ['-name='], values: { name: '' } },
    { argv: ['-name=a=b'], values: { name: 'a=b' } },
    { argv: ['-name', '-x'], values: { name: '-x' }, args: [] }, // a value may start with '-'
    { argv: ['-port', '-1'], values: { port: -1 } },
    { argv: ['-port=8500'], values: { port: 8500 } },
    { argv: ['-verbose'], values: { verbose: true } },
    { argv: ['--verbose'], values: { verbose: true } },
    { argv: ['-verbose=true'], values: { verbose: true } },
    { argv: ['-verbose=false'], values: { verbose: false } },
    { argv: ['-verbose=0'], values: { verbose: false } },
    { argv: ['-verbose=T'], values: { verbose: true } },
    // a bool never takes the next argument: "false" is the first positional
    { argv: ['-verbose', 'false'], values: { verbose: true }, args: ['false'] },
    { argv: ['-wait', '1m30s'], values: { wait: 90_000 } },
    { argv: ['-join', 'a', '-join=b', '--join', 'c'], values: { join: ['a', 'b', 'c'] } },
    { argv: ['-name', 'a', '-name', 'b'], values: { name: 'b' } }, // last one wins
    { argv: ['-dc', 'east'], values: { datacenter: 'east' } },
    // parsing stops at the first positional argument ...
    { argv: ['-name', 'v', 'pos', '-port', '1'], values: { name: 'v' }, args: ['pos', '-port', '1'] },
    { argv: ['-', '-port', '1'], values: {}, args: ['-', '-port', '1'] },
    // ... and after "--", which is consumed
    { argv: ['-port', '1', '--', '-name', 'x'], values: { port: 1 }, args: ['-name', 'x'] },
    { argv: ['--'], values: {}, args: [] },
    { argv: [], values: {}, args: [] },
    { argv: ['-help'], values: {}, help: true },
    { argv: ['-h', '-port', '2'], values: { port: 2 }, help: true },
  ];
  for (const c of cases) {
    t.test(c.argv.join(' ') || '(nothing)', async (t) => {
      const r = parse(c.argv);
      t.same(r.values, c.values);
      t.same(r.args, c.args ?? []);
      t.equal(r.help, c.help ?? false);
    });
  }
});

t.test('rejected syntax: a UsageError naming the flag in Go\'s words', async (t) => {
  const cases: Array<{ argv: string[]; message: string }> = [
    { argv: ['-nope'], message: 'flag provided but not defined: -nope' },
    { argv: ['--nope=1'], message: 'flag provided but not defined: -nope' },
    { argv: ['-name'], message: 'flag needs an argument: -name' },
    { argv: ['-join', 'a', '-join'], message: 'flag needs an argument: -join' },
    { argv: ['-port', 'abc'], message: 'invalid value "abc" for flag -port: parse error' },
    { argv: ['-port', '1.5'], message: 'invalid value "1.5" for flag -port: parse error' },
    { argv: ['-port', '99999999999999999999'], message: 'invalid value "99999999999999999999" for flag -port: value out of range' },
    { argv: ['-wait', '10'], message: 'invalid value "10" for flag -wait: parse error' },
    { argv: ['-verbose=maybe'], message: 'invalid boolean value "maybe" for -verbose' },
    { argv: ['---name', 'x'], message: 'bad flag syntax: ---name' },
    { argv: ['-=x'], message: 'bad flag syntax: -=x' },
  ];
  for (const c of cases) {
    t.test(c.argv.join(' '), async (t) => {
      const err = t.throws(() => parseFlags(c.argv, SPECS)) as unknown;
      t.type(err, UsageError);
      // the CLI prints these lines as they are, like Go's flag package does
      t.match(err, { code: 'ERR_USAGE', message: c.message });
    });
  }
});

t.test('parseBool is Go strconv.ParseBool', async (t) => {
  const cases: Array<[string, boolean | undefined]> = [
    ['1', true], ['t', true], ['T', true], ['true', true], ['TRUE', true], ['True', true],
    ['0', false], ['f', false], ['F', false], ['false', false], ['FALSE', false], ['False', false],
    ['', undefined], ['yes', undefined], ['tRUE', undefined], ['2', undefined], [' true', undefined],
  ];
  for (const [input, want] of cases) t.equal(parseBool(input), want, JSON.stringify(input));
});
