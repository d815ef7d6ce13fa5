import { readFileSync } from 'node:fs';
import t from 'tap';
import { isMusterError } from '../../src/errors.js';
import type { ContainerInspect } from '../../src/docker/types.js';
import { compileTagTemplate } from '../../src/docker/template.js';

const FIXTURES = new URL('../../../test/fixtures/inspect/', import.meta.url);

function fixture(name: string): ContainerInspect {
  return JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), 'utf8')) as ContainerInspect;
}

const compose = fixture('compose');
compose.Config.Env = ['ENVIRONMENT=test', 'SERVICE_8105_NAME=foo', 'HOME=/home/foobar', 'SERVICE_9404_NAME=bar'];
compose.Config.Labels = {
  ...compose.Config.Labels,
  'com.amazonaws.ecs.task-arn': 'arn:aws:ecs:region:xxxxxxxxxxxx:task/368f4403-0ee4-4f4c-b7a5-be50c57db5cf',
  Mixed: 'Case',
};
const id = compose.Id;

t.test('renders against the inspection', async (t) => {
  const cases: Array<[string, string]> = [
    ['plain,tags', 'plain,tags'],
    ['no action }} here', 'no action }} here'],
    ['{{.Config.Hostname}}', compose.Config.Hostname ?? 'missing'],
    ['{{.ID}}', id],
    ['{{.Id}}', id],
    ['{{.Name}}', '/muster-fx-compose'],
    ['{{.NetworkSettings.Networks.bridge.IPAddress}}', compose.NetworkSettings?.IPAddress ?? 'missing'],
    ['{{index .Config.Labels "com.docker.compose.service"}}', 'web'],
    ['{{index .Config.Labels "missing"}}', ''],
    ['{{index .Config.Env 1}}', 'SERVICE_8105_NAME=foo'],
    ['{{mIndex "com.docker.compose.project" .Config.Labels}}', 'shop'],
    ['{{toUpper "foo"}}', 'FOO'],
    ['{{toLower .Config.Labels.Mixed}}', 'case'],
    ['{{.Name | toUpper}}', '/MUSTER-FX-COMPOSE'],
    ['{{split "-" .Name | join "+"}}', '/muster+fx+compose'],
    ['{{split "-" .Name | sIndex -1}}', 'compose'],
    ['{{toUpper (index .Config.Labels "com.docker.compose.project")}}', 'SHOP'],
    ['{{replace -1 "=" "" "=foo="}}', 'foo'],
    ['{{replace 1 "o" "0" "foo"}}', 'f0o'],
    ['{{strSlice .ID 0 12}}', id.slice(0, 12)],
    ['{{strSlice "abcdef" 2}}', 'cdef'],
    ['{{strSlice "abcdef" 4 2}}', 'ef'],
    ['{{strSlice "abc" 1 9}}', 'abc'],
    ['{{sIndex 0 .Config.Env}}', 'ENVIRONMENT=test'],
    ['{{sIndex -1 .Config.Env}}', 'SERVICE_9404_NAME=bar'],
    ['{{sIndex 99 .Config.Env}}', 'SERVICE_9404_NAME=bar'],
    ['{{sIndex -99 .Config.Env}}', 'ENVIRONMENT=test'],
    ['{{join "," .Config.Env}}', 'ENVIRONMENT=test,SERVICE_8105_NAME=foo,HOME=/home/foobar,SERVICE_9404_NAME=bar'],
    ['{{split "," "/proc/bus,/proc/fs"}}', '[/proc/bus /proc/fs]'],
    ['{{splitIndex -1 "/" (mIndex "com.amazonaws.ecs.task-arn" .Config.Labels)}}', '368f4403-0ee4-4f4c-b7a5-be50c57db5cf'],
    ['{{splitIndex 1 ":" "a:b:c"}}', 'b'],
    ['{{matchFirstElement "^SERVICE_" .Config.Env}}', 'SERVICE_8105_NAME=foo'],
    ['{{matchAllElements "^SERVICE_" .Config.Env}}', '[SERVICE_8105_NAME=foo SERVICE_9404_NAME=bar]'],
    ['{{len .Config.Env}}', '4'],
    ['env:{{.Config.Labels.missing}}', 'env:'],
    ['a,{{ .Config.Labels.Mixed }},b', 'a,Case,b'],
    ['a,  {{- .Config.Labels.Mixed -}}  ,b', 'a,Case,b'],
    ['a{{/* a comment */}}b', 'ab'],
    ['{{`raw "q"`}}', 'raw "q"'],
    ['{{$.Config.Labels.Mixed}}', 'Case'],
    ['{{true}}-{{3}}', 'true-3'],
  ];
  for (const [src, want] of cases) {
    t.equal(compileTagTemplate(src)(compose), want, src);
  }
});

t.test('malformed templates fail at compile time with ERR_TEMPLATE', async (t) => {
  const bad = [
    '{{',
    '{{.Name',
    'x{{.Name}',
    '{{}}',
    '{{ }}',
    '{{if .Name}}x{{end}}',
    '{{range .Config.Env}}{{.}}{{end}}',
    '{{nosuchfunc .Name}}',
    '{{httpGet "http://x"}}',
    '{{"a" "b"}}',
    '{{.Name .Id}}',
    '{{.Name | .Id}}',
    '{{$x := 1}}',
    '{{"unterminated}}',
    '{{toUpper (.Name}}',
    '{{toUpper .Name)}}',
    '{{(index .NetworkSettings.Ports "80/tcp" 0).HostIp}}',
    "{{'c'}}",
    '{{/* unclosed }}',
    '{{.Name | }}',
    '{{.Name-}}',
  ];
  for (const src of bad) {
    try {
      compileTagTemplate(src);
      t.fail(`compiled: ${src}`);
    } catch (err) {
      t.ok(isMusterError(err) && err.code === 'ERR_TEMPLATE', `rejects ${src}`);
    }
  }
});

t.test('execution errors give "" and are reported', async (t) => {
  const bad = [
    '{{toUpper 5}}',
    '{{sIndex 0 .Config.Hostname}}',
    '{{sIndex "0" .Config.Env}}',
    '{{.Name.Foo}}',
    '{{index .Config.Env 99}}',
    '{{strSlice .Name -1}}',
    '{{toUpper "a" "b"}}',
    '{{matchFirstElement "(" .Config.Env}}',
    '{{sIndex 0 .Config.Missing}}',
    'prefix-{{len 3}}',
  ];
  for (const src of bad) {
    const errors: string[] = [];
    const out = compileTagTemplate(src)(compose, (m) => errors.push(m));
    t.equal(out, '', `${src} renders ""`);
    t.equal(errors.length, 1, `${src} reports one error`);
  }
  t.doesNotThrow(() => compileTagTemplate('{{toUpper 5}}')(compose), 'without a reporter it still does not throw');
});

t.test('field names follow Go: exact key first, then case-insensitive', async (t) => {
  const info = fixture('published');
  const hostPort = info.NetworkSettings?.Ports?.['80/tcp']?.[0]?.HostPort ?? 'missing';
  t.equal(compileTagTemplate('{{index .NetworkSettings.Ports "80/tcp"}}')(info), `[map[HostIp:127.0.0.1 HostPort:${hostPort}]]`);
  t.equal(compileTagTemplate('{{.config.hostname}}')(info), info.Config.Hostname);
  t.equal(compileTagTemplate('{{.State.Running}}')(info), 'true');
});
