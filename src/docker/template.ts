import { MusterError } from '../errors.js';
import type { ContainerInspect } from './types.js';
import { TEMPLATE_FUNCS, TemplateExecError, typeName } from './template-funcs.js';

/**
 * The subset of Go's text/template that registrator's `-tags` flag is used
 * with, run against the container inspection:
 * - text, actions `{{ ... }}`, trim markers `{{- ` / ` -}}`, comments (slash-star ... star-slash);
 * - operands: `.`, field chains `.Config.Labels.x`, `$` and `$.Field`, string
 *   ("..." and raw `...`), number, `true`/`false`/`nil`, `( pipeline )`;
 * - commands: a value alone, or a function with arguments; pipelines `a | f x`
 *   pass the value on as the last argument;
 * - functions: see template-funcs.ts (registrator's plus `index` and `len`).
 * Control structures (`if`, `range`, `with`, ...) and variables are rejected
 * when compiling, so the CLI can refuse the flag at startup.
 *
 * Go field names resolve against the JSON of the inspection: the exact key
 * first, then a case-insensitive match (Go's `.ID` is `Id` in JSON, `.HostIP`
 * is `HostIp`). A missing field prints as "" where Go prints "<no value>".
 */
export type TagTemplate = (info: ContainerInspect, onError?: (message: string) => void) => string;

type Operand =
  | { kind: 'field'; path: string[] }
  | { kind: 'func'; name: string }
  | { kind: 'literal'; value: string | number | boolean | null }
  | { kind: 'pipe'; pipe: Pipeline };
type Command = Operand[];
type Pipeline = Command[];
type Node = { kind: 'text'; text: string } | { kind: 'action'; pipe: Pipeline };

type Token =
  | { t: '|' | '(' | ')'; at: number }
  | { t: 'operand'; op: Operand; at: number };

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue']);
const SPACE = /[ \t\r\n]/;
const FIELD = /^(?:\.[A-Za-z_][A-Za-z0-9_]*)+/;
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*/;

function compileError(message: string, at: number): never {
  throw new MusterError('ERR_TEMPLATE', `tags template: ${message} at offset ${at}`);
}

/** Lexes one action starting after `{{` (and a left trim marker); returns its tokens and where it ends. */
function lexAction(src: string, start: number): { tokens: Token[]; end: number; trimRight: boolean } {
  const tokens: Token[] = [];
  let p = start;
  for (;;) {
    const wsStart = p;
    while (p < src.length && SPACE.test(src[p] as string)) p++;
    if (p > wsStart && src.startsWith('-}}', p)) return { tokens, end: p + 3, trimRight: true };
    if (src.startsWith('}}', p)) return { tokens, end: p + 2, trimRight: false };
    if (p >= src.length) compileError('unclosed action', start - 2);
    const rest = src.slice(p);
    const c = src[p] as string;
    let m: RegExpExecArray | null;
    if (c === '|' || c === '(' || c === ')') {
      tokens.push({ t: c, at: p }); p++;
    } else if (c === '"') {
      const close = /^"(?:[^"\\\n]|\\.)*"/.exec(rest);
      if (!close) compileError('unterminated quoted string', p);
      let value: string;
      try { value = JSON.parse(close[0]) as string; } catch { compileError(`bad string ${close[0]}`, p); }
      tokens.push({ t: 'operand', op: { kind: 'literal', value }, at: p }); p += close[0].length;
    } else if (c === '`') {
      const close = src.indexOf('`', p + 1);
      if (close < 0) compileError('unterminated raw quoted string', p);
      tokens.push({ t: 'operand', op: { kind: 'literal', value: src.slice(p + 1, close) }, at: p }); p = close + 1;
    } else if ((m = FIELD.exec(rest)) !== null) {
      tokens.push({ t: 'operand', op: { kind: 'field', path: m[0].slice(1).split('.') }, at: p }); p += m[0].length;
    } else if (c === '$') {
      const chain = FIELD.exec(src.slice(p + 1));
      if (IDENT.test(src.slice(p + 1))) compileError('variables are not supported', p);
      tokens.push({ t: 'operand', op: { kind: 'field', path: chain ? chain[0].slice(1).split('.') : [] }, at: p });
      p += 1 + (chain ? chain[0].length : 0);
    } else if ((m = NUMBER.exec(rest)) !== null) {
      tokens.push({ t: 'operand', op: { kind: 'literal', value: Number(m[0]) }, at: p }); p += m[0].length;
    } else if (c === '.') {
      tokens.push({ t: 'operand', op: { kind: 'field', path: [] }, at: p }); p++;
    } else if ((m = IDENT.exec(rest)) !== null) {
      const word = m[0];
      if (KEYWORDS.has(word)) compileError(`unsupported action "${word}"`, p);
      const op: Operand = word === 'true' || word === 'false' ? { kind: 'literal', value: word === 'true' }
        : word === 'nil' ? { kind: 'literal', value: null }
        : { kind: 'func', name: word };
      if (op.kind === 'func' && !Object.hasOwn(TEMPLATE_FUNCS, word)) compileError(`function "${word}" not defined`, p);
      tokens.push({ t: 'operand', op, at: p }); p += word.length;
    } else {
      compileError(`unexpected ${JSON.stringify(c)} in action`, p);
    }
  }
}

/** Parses tokens into a pipeline, checking Go's rules on commands. */
function parseAction(tokens: Token[], at: number): Pipeline {
  let i = 0;
  const pipeline = (): Pipeline => {
    const cmds: Pipeline = [];
    for (;;) {
      const cmd: Command = [];
      for (let tok = tokens[i]; tok !== undefined && tok.t !== '|' && tok.t !== ')'; tok = tokens[i]) {
        i++;
        if (tok.t === 'operand') { cmd.push(tok.op); continue; }
        const inner = pipeline();
        if (tokens[i]?.t !== ')') compileError('unclosed left paren', tok.at);
        i++;
        cmd.push({ kind: 'pipe', pipe: inner });
      }
      const first = cmd[0];
      if (first === undefined) compileError('missing value for command', tokens[i]?.at ?? at);
      if (first.kind !== 'func' && cmd.length > 1) compileError("can't give argument to non-function", at);
      if (first.kind !== 'func' && cmds.length > 0) compileError(`non executable command in pipeline stage ${cmds.length + 1}`, at);
      cmds.push(cmd);
      if (tokens[i]?.t !== '|') return cmds;
      i++;
    }
  };
  const pipe = pipeline();
  const extra = tokens[i];
  if (extra !== undefined) compileError(`unexpected "${extra.t === 'operand' ? 'operand' : extra.t}" in action`, extra.at);
  return pipe;
}

function parseTemplate(src: string): Node[] {
  const nodes: Node[] = [];
  let pos = 0;
  let trimNext = false;
  while (pos < src.length) {
    const open = src.indexOf('{{', pos);
    let text = src.slice(pos, open < 0 ? src.length : open);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
    if (open < 0) { if (text !== '') nodes.push({ kind: 'text', text }); break; }
    let p = open + 2;
    if (src[p] === '-' && SPACE.test(src[p + 1] ?? '')) {
      text = text.replace(/[ \t\r\n]+$/, '');
      p += 2;
      while (SPACE.test(src[p] ?? '')) p++;
    }
    if (text !== '') nodes.push({ kind: 'text', text });
    if (src.startsWith('/*', p)) {
      const close = src.indexOf('*/', p + 2);
      if (close < 0) compileError('unclosed comment', open);
      const tail = /^(?:[ \t\r\n]+-)?\}\}/.exec(src.slice(close + 2));
      if (!tail) compileError('comment ends before closing delimiter', close);
      trimNext = tail[0].length > 2;
      pos = close + 2 + tail[0].length;
      continue;
    }
    const { tokens, end, trimRight } = lexAction(src, p);
    nodes.push({ kind: 'action', pipe: parseAction(tokens, open) });
    trimNext = trimRight;
    pos = end;
  }
  return nodes;
}

function field(cur: unknown, name: string): unknown {
  if (cur === undefined || cur === null) return undefined;
  if (typeof cur !== 'object' || Array.isArray(cur)) throw new TemplateExecError(`can't evaluate field ${name} in type ${typeName(cur)}`);
  const obj = cur as Record<string, unknown>;
  if (Object.hasOwn(obj, name)) return obj[name];
  const lower = name.toLowerCase();
  const key = Object.keys(obj).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : obj[key];
}

function callFunc(name: string, args: unknown[]): unknown {
  const fn = TEMPLATE_FUNCS[name];
  if (fn === undefined) throw new TemplateExecError(`function "${name}" not defined`);
  return fn(args);
}

function evalOperand(op: Operand, dot: unknown): unknown {
  switch (op.kind) {
    case 'field': return op.path.reduce(field, dot);
    case 'func': return callFunc(op.name, []);
    case 'literal': return op.value;
    case 'pipe': return evalPipeline(op.pipe, dot);
  }
}

function evalPipeline(pipe: Pipeline, dot: unknown): unknown {
  let value: unknown;
  pipe.forEach((cmd, stage) => {
    const [first, ...rest] = cmd;
    if (first?.kind === 'func') {
      const args = rest.map((op) => evalOperand(op, dot));
      if (stage > 0) args.push(value);
      value = callFunc(first.name, args);
    } else if (first !== undefined) {
      value = evalOperand(first, dot);
    }
  });
  return value;
}

/** Go's %v, except that a missing value prints as "". */
export function printValue(v: unknown, nested = false): string {
  if (v === undefined || v === null) return nested ? '<nil>' : '';
  if (Array.isArray(v)) return `[${v.map((e) => printValue(e, true)).join(' ')}]`;
  if (typeof v === 'object') {
    const obj = v as Record<string, unknown>;
    return `map[${Object.keys(obj).sort().map((k) => `${k}:${printValue(obj[k], true)}`).join(' ')}]`;
  }
  return String(v);
}

/**
 * Compiles a `-tags` value. Throws MusterError ERR_TEMPLATE when malformed.
 * The returned function never throws: an execution error gives "" and is
 * reported through `onError`.
 */
export function compileTagTemplate(src: string): TagTemplate {
  if (!src.includes('{{')) return () => src;
  const nodes = parseTemplate(src);
  return (info, onError) => {
    try {
      return nodes.map((n) => (n.kind === 'text' ? n.text : printValue(evalPipeline(n.pipe, info)))).join('');
    } catch (err) {
      onError?.(err instanceof Error ? err.message : String(err));
      return '';
    }
  };
}
