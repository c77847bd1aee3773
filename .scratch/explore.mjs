import fc from 'fast-check';
import { Calculator } from 'nanocalc';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { CalculatorRequestSchema, CalculatorResponseSchema } from '../dist/gen/nanocalc/v1/calculator_pb.js';
import { expectedResponse, summarize, request } from '../dist/test/reference.js';
const calc = new Calculator();
const hex = (u) => Buffer.from(u).toString('hex');
const js = (x) => JSON.stringify(x, (k, v) => typeof v === 'bigint' ? v.toString() + 'n' : v);
const classes = new Map();
function check(bytes) {
  const resp = summarize(fromBinary(CalculatorResponseSchema, calc.process(bytes)));
  let req, err;
  try { req = fromBinary(CalculatorRequestSchema, bytes); } catch (e) { err = e; }
  let exp = err ? { case: 'error', code: 2, index: 0n } : expectedResponse(req, bytes.length);
  if (js(exp) !== js(resp)) {
    const key = (err ? 'es-fails: ' : 'es-ok: ') + js(resp).slice(0, 60);
    if (!classes.has(key)) classes.set(key, []);
    const l = classes.get(key); if (l.length < 4) l.push(hex(bytes) + ' exp=' + js(exp).slice(0,80));
  }
}
const garbage = fc.uint8Array({ maxLength: 256 });
const mutated = fc.tuple(request, fc.nat(), fc.nat(255), fc.constantFrom('trunc', 'flip', 'set', 'insert', 'delete')).map(([r, i, v, kind]) => {
  const b = toBinary(CalculatorRequestSchema, r);
  if (b.length === 0) return b;
  const at = i % b.length;
  const c = Array.from(b);
  if (kind === 'trunc') return Uint8Array.from(c.slice(0, at));
  if (kind === 'flip') { c[at] ^= 1 << (v % 8); return Uint8Array.from(c); }
  if (kind === 'set') { c[at] = v; return Uint8Array.from(c); }
  if (kind === 'insert') { c.splice(at, 0, v); return Uint8Array.from(c); }
  c.splice(at, 1); return Uint8Array.from(c);
});
let n = 0;
for (const arb of [garbage, mutated]) {
  for (const b of fc.sample(arb, 200000)) { check(b); n++; }
}
console.log('checked', n);
for (const [k, v] of classes) console.log(k, '\n   ', v.join('\n    '));
