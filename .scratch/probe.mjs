import { Calculator } from 'nanocalc';
import { fromBinary } from '@bufbuild/protobuf';
import { CalculatorRequestSchema, CalculatorResponseSchema } from '../dist/gen/nanocalc/v1/calculator_pb.js';
const calc = new Calculator();
const js = (x) => JSON.stringify(x, (k, v) => typeof v === 'bigint' ? v.toString() + 'n' : v);
function probe(name, hex) {
  const bytes = Uint8Array.from(Buffer.from(hex.replace(/ /g, ''), 'hex'));
  let es; try { es = js(fromBinary(CalculatorRequestSchema, bytes).operation); } catch (e) { es = 'THROWS ' + e.message; }
  const r = fromBinary(CalculatorResponseSchema, calc.process(bytes)).result;
  console.log(name.padEnd(40), hex.padEnd(40), '| es:', es, '| engine:', js(r.case === 'error' ? {code: r.value.code, msg: r.value.message, index: r.value.index} : r));
}
probe('6-byte tag', '8a 80 80 80 80 00 02 08 05');
probe('5-byte tag', '8a 80 80 80 00 02 08 05');
probe('len varint 2^32+2', '0a 82 80 80 80 10 08 05');
probe('10-byte int64 10th=01', '0a 0b 08 ff ff ff ff ff ff ff ff ff 01');
probe('10-byte int64 10th=02', '0a 0b 08 ff ff ff ff ff ff ff ff ff 02');
probe('10-byte int64 10th=7f', '0a 0b 08 ff ff ff ff ff ff ff ff ff 7f');
probe('11-byte varint in skipped field', '40 ff ff ff ff ff ff ff ff ff ff 01 0a 02 08 05');
probe('10-byte varint 10th=02 skipped', '40 ff ff ff ff ff ff ff ff ff 02 0a 02 08 05');
probe('enum 10-byte 10th=7f', '32 0c 08 81 80 80 80 80 80 80 80 80 7f');
probe('enum 10-byte 10th=01', '32 0b 08 81 80 80 80 80 80 80 80 80 01');
probe('binop overshoot', '0a 01 08 96 01');
probe('packed len 4', '3a 08 08 01 12 04 01 00 00 00');
probe('packed len 12 (8+4)', '3a 10 08 01 12 0c 01 00 00 00 00 00 00 00 02 00 00 00');
probe('col field 2 varint', '3a 04 08 01 12 00');
probe('top-level endgroup unknown', '0a 02 08 05 44');
probe('top-level endgroup known', '0c 02 08 05');
probe('wire type 6', '0e');
probe('wire type 7', '0f');
probe('field 0', '02 00');
probe('nested endgroup in binop', '0a 03 08 05 1c');
probe('group in binop', '0a 05 08 05 1b 1c 00');
probe('empty', '');
probe('column fixed i64 form', '3a 14 08 01 11 05 00 00 00 00 00 00 00 19 07 00 00 00 00 00 00 00');
probe('columns chunked', '3a 28 08 01 12 08 01 00 00 00 00 00 00 00 12 08 02 00 00 00 00 00 00 00 1a 10 03 00 00 00 00 00 00 00 04 00 00 00 00 00 00 00');
probe('two adds merge', '0a 02 08 05 0a 02 10 07');
probe('add then sub', '0a 02 08 05 12 02 10 07');
probe('batch twice', '32 06 08 01 12 02 08 01 32 04 12 02 08 02');
probe('batch, add, batch', '32 06 08 01 12 02 08 01 0a 00 32 04 12 02 08 02');
