// protoc-gen-nanocalc: generates the allocation-free codec of nanocalc's hot path from the schema.
//
// For each file it writes `<name>_codec.ts` with, derived from the descriptors:
// - every enum as a constant object (prefix stripped) and a name table indexed by number;
// - for every message whose fields are all singular varint scalars (e.g. BinaryOp): body encoders
//   taking the fields as numbers or as bigints, writing with the runtime of src/wire.ts;
// - for every oneof: a constant object of its member field numbers, and for members whose type
//   is such a scalar message, an encoder of the enclosing message with that member set (field
//   number as a parameter, one-byte length since the body's maximum size is known);
// - for oneof members whose type has packed fixed-width lists (e.g. ColumnBatch): a frame writer
//   whose padded lengths put every list at a multiple of 8 bytes, and the lists' offsets;
// - for every message field: its number and its key byte (tag and wire type), so readers need no
//   literals;
// - the layout of the buffer shared with the engine, as one `Layout` object (SHARED_BUFFER_LAYOUT below:
//   not in the schema).
// With the option `lang=rust` it writes instead `wire.rs` for crates/nanocalc-core: the same keys,
// enum values and layout as Rust constants, so the two languages share one source of these facts.
// Shapes the hot path does not need make it stop with an error rather than emit a guess.
import { ScalarType, type DescEnum, type DescField, type DescMessage, type DescOneof } from '@bufbuild/protobuf';
import { createEcmaScriptPlugin, runNodeJs, type GeneratedFile, type Schema } from '@bufbuild/protoplugin';

/**
 * The layout of the buffer a Calculator shares with the engine (crates/nanocalc-core's
 * shared_buffer.rs runs it; src/calculator.ts writes requests and reads responses in it): facts of
 * the protocol, not of the schema, declared here once for both languages.
 */
const SHARED_BUFFER_LAYOUT: readonly { name: string; value: number; rust: 'usize' | 'u32'; doc: string }[] = [
  {
    name: 'REQUEST_LENGTH_WORD',
    value: 0,
    rust: 'usize',
    doc: 'Index of the u32 control word holding the request length (bytes 0..4).',
  },
  {
    name: 'RESPONSE_START_WORD',
    value: 1,
    rust: 'usize',
    doc: 'Index of the u32 control word holding where the response starts (bytes 4..8), or the capacity needed.',
  },
  {
    name: 'RESPONSE_LENGTH_WORD',
    value: 2,
    rust: 'usize',
    doc: 'Index of the u32 control word holding the response length (bytes 8..12), or NEED_CAPACITY.',
  },
  {
    name: 'REQUEST_OFFSET',
    value: 16,
    rust: 'usize',
    doc: 'Where the request starts: after the control words, 8-byte aligned.',
  },
  {
    name: 'NEED_CAPACITY',
    value: 0xffffffff,
    rust: 'u32',
    doc: 'The response length word when the buffer is too small; the start word then holds the capacity needed.',
  },
  {
    name: 'SMALL_RESPONSE_MAX',
    value: 192,
    rust: 'usize',
    doc: 'Every response but a batch result fits in this many bytes (an error message is cut to fit).',
  },
];

const VARINT_SCALARS = new Set([
  ScalarType.INT64,
  ScalarType.UINT64,
  ScalarType.INT32,
  ScalarType.UINT32,
  ScalarType.BOOL,
]);
const FIXED64_SCALARS = new Set([ScalarType.FIXED64, ScalarType.SFIXED64, ScalarType.DOUBLE]);

function wireType(field: DescField): number {
  switch (field.fieldKind) {
    case 'scalar':
      return FIXED64_SCALARS.has(field.scalar)
        ? 1
        : field.scalar === ScalarType.STRING || field.scalar === ScalarType.BYTES
          ? 2
          : VARINT_SCALARS.has(field.scalar)
            ? 0
            : 5;
    case 'enum':
      return 0;
    default:
      return 2; // messages, packed lists, maps, strings: length-delimited
  }
}

function key(field: DescField): number {
  if (field.number > 15)
    throw new Error(`${field.parent.typeName}.${field.name}: keys longer than one byte are not supported`);
  return (field.number << 3) | wireType(field);
}

const hex = (n: number) => `0x${n.toString(16).padStart(2, '0')}`;
const pascal = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

function isScalarMessage(message: DescMessage): boolean {
  return message.fields.every(
    (f) =>
      f.oneof === undefined && (f.fieldKind === 'enum' || (f.fieldKind === 'scalar' && VARINT_SCALARS.has(f.scalar))),
  );
}

function isColumnMessage(message: DescMessage): boolean {
  const lists = message.fields.filter((f) => f.fieldKind === 'list');
  return (
    lists.length > 0 &&
    lists.every(
      (f) => f.fieldKind === 'list' && f.listKind === 'scalar' && FIXED64_SCALARS.has(f.scalar) && f.packed,
    ) &&
    message.fields.every((f) => f.fieldKind === 'list' || f.fieldKind === 'enum')
  );
}

function generateEnum(f: GeneratedFile, e: DescEnum): void {
  const prefix = e.sharedPrefix ?? '';
  f.print(f.jsDoc(`The values of \`${e.typeName}\`.`));
  f.print(f.export('const', e.name), ' = {');
  for (const v of e.values) f.print('  ', v.name.slice(prefix.length), ': ', v.number, ',');
  f.print('} as const;');
  const max = Math.max(...e.values.map((v) => v.number));
  const names = Array.from({ length: max + 1 }, (_, n) =>
    e.values.find((v) => v.number === n)?.name.slice(prefix.length),
  );
  f.print(f.jsDoc(`Names of \`${e.typeName}\` values, indexed by number.`));
  f.print(
    f.export('const', `${e.name}Names`),
    ': readonly (string | undefined)[] = [',
    names.map((n) => (n ? `'${n}'` : 'undefined')).join(', '),
    '];',
  );
  f.print();
}

function generateFieldNumbersAndKeys(f: GeneratedFile, message: DescMessage): void {
  f.print(f.jsDoc(`Field numbers of the fields of \`${message.typeName}\`.`));
  f.print(f.export('const', `${message.name}Field`), ' = {');
  for (const field of message.fields) f.print('  ', field.localName, ': ', field.number, ',');
  f.print('} as const;');
  f.print(f.jsDoc(`Key bytes (field number and wire type) of the fields of \`${message.typeName}\`.`));
  f.print(f.export('const', `${message.name}Key`), ' = {');
  for (const field of message.fields) f.print('  ', field.localName, ': ', hex(key(field)), ',');
  f.print('} as const;');
  f.print();
}

/** Maximum encoded size of a scalar message's body. */
function maxScalarBodySize(message: DescMessage): number {
  // Each field: a one-byte key and a varint of at most ten bytes.
  return message.fields.length * (1 + 10);
}

/**
 * Prints the writes of a scalar message's fields at `pos` (a `let` of the enclosing function),
 * zero fields omitted as protobuf does. Small numbers (below 2^14) are written by a call V8 can
 * inline, tested right here: one more call level on this path measured ~10 ns per operation.
 */
function printScalarFields(f: GeneratedFile, message: DescMessage, kind: 'Numbers' | 'Bigints'): void {
  for (const field of message.fields) {
    const name = field.localName;
    f.print('  if (', name, kind === 'Numbers' ? ' !== 0) {' : ' !== 0n) {');
    f.print('    u8[pos++] = ', hex(key(field)), ';');
    if (kind === 'Numbers') {
      f.print(
        '    pos = ',
        name,
        ' >>> 0 === ',
        name,
        ' && ',
        name,
        ' < 16384 ? writeSmallVarint(u8, pos, ',
        name,
        ') : writeInt64Number(u8, pos, ',
        name,
        ');',
      );
    } else {
      f.print('    pos = writeInt64Bigint(u8, pos, ', name, ');');
    }
    f.print('  }');
  }
}

function generateScalarEncoders(f: GeneratedFile, message: DescMessage): void {
  const params = message.fields.map((field) => field.localName);
  for (const kind of ['Numbers', 'Bigints'] as const) {
    const type = kind === 'Numbers' ? 'number' : 'bigint';
    f.print(
      f.jsDoc(
        `Writes the body of \`${message.typeName}\` at \`pos\` from ${type}s (${kind === 'Numbers' ? 'safe integers' : 'in the i64 range'}, ` +
          `checked by the caller), omitting zero fields as protobuf does; returns the position after it. At most ` +
          `${maxScalarBodySize(message)} bytes.`,
      ),
    );
    f.print(
      f.export('function', `encode${message.name}${kind}`),
      '(u8: Uint8Array, pos: number, ',
      params.map((p) => `${p}: ${type}`).join(', '),
      '): number {',
    );
    printScalarFields(f, message, kind);
    f.print('  return pos;');
    f.print('}');
    f.print();
  }
}

function generateOneof(f: GeneratedFile, message: DescMessage, oneof: DescOneof): void {
  const name = `${message.name}${pascal(oneof.localName)}`;
  f.print(f.jsDoc(`Field numbers of the members of \`${message.typeName}.${oneof.name}\`.`));
  f.print(f.export('const', name), ' = {');
  for (const field of oneof.fields) f.print('  ', field.localName, ': ', field.number, ',');
  f.print('} as const;');
  f.print();
  // Members of scalar-message types, grouped by type: one encoder per type, the field a parameter.
  const byType = new Map<DescMessage, DescField[]>();
  for (const field of oneof.fields) {
    if (field.fieldKind === 'message' && isScalarMessage(field.message)) {
      byType.set(field.message, [...(byType.get(field.message) ?? []), field]);
    }
  }
  for (const [type, members] of byType) {
    if (maxScalarBodySize(type) > 127) throw new Error(`${type.typeName} may exceed a one-byte length`);
    const params = type.fields.map((field) => field.localName);
    for (const kind of ['Numbers', 'Bigints'] as const) {
      const t = kind === 'Numbers' ? 'number' : 'bigint';
      f.print(
        f.jsDoc(
          `Writes \`${message.typeName} { <field>: ${type.name} }\` at \`pos\`, \`field\` being one of ` +
            `${members.map((m) => m.name).join(', ')}; returns the position after it.`,
        ),
      );
      f.print(
        f.export('function', `encode${message.name}${type.name}${kind}`),
        '(u8: Uint8Array, pos: number, field: number, ',
        params.map((p) => `${p}: ${t}`).join(', '),
        '): number {',
      );
      // The body is written here rather than by encode<Type><Kind>: one call level less.
      f.print('  const start = pos;');
      f.print('  u8[start] = (field << 3) | 2;');
      f.print('  pos += 2;');
      printScalarFields(f, type, kind);
      f.print('  u8[start + 1] = pos - start - 2; // the body fits a one-byte length');
      f.print('  return pos;');
      f.print('}');
      f.print();
    }
  }
  for (const field of oneof.fields) {
    if (field.fieldKind === 'message' && isColumnMessage(field.message)) generateColumnFrame(f, message, field);
  }
}

/**
 * A oneof member of a column message, framed so every packed list starts 8-byte aligned:
 * outer key, a 5-byte padded length, the enum fields (one byte each), then per list its key and a
 * length padded to bring the list's start to a multiple of 8.
 */
function generateColumnFrame(f: GeneratedFile, message: DescMessage, member: DescField): void {
  if (member.fieldKind !== 'message') return;
  const column = member.message;
  const enums = column.fields.filter((field) => field.fieldKind === 'enum');
  const lists = column.fields.filter((field) => field.fieldKind === 'list');
  for (const e of enums) {
    if (e.fieldKind === 'enum' && Math.max(...e.enum.values.map((v) => v.number)) > 127) {
      throw new Error(`${column.typeName}.${e.name}: enum values above 127 do not fit one byte`);
    }
  }
  const base = `${message.name}${pascal(member.localName)}`;
  // Offset of each list, as `fixed + 8 * index * n` with the header sizes computed here.
  let offset = 1 + 5 + 2 * enums.length;
  const widths: number[] = [];
  const starts: number[] = [];
  for (let i = 0; i < lists.length; i++) {
    // The length varint's width brings the list to a multiple of 8; lengths of large columns
    // need at least 5 bytes, and no varint may take more than 10.
    let width = (8 - ((offset + 1) % 8)) % 8 || 8;
    if (width < 5) width += 8;
    if (width > 10) throw new Error(`${column.typeName}.${lists[i]!.name}: no varint width aligns this list`);
    widths.push(width);
    offset += 1 + width;
    starts.push(offset);
    offset += 8; // then 8 * n bytes, a multiple of 8: the alignment repeats
  }
  const fixed = (i: number) => (i < lists.length ? starts[i]! : offset) - 8 * i; // list i starts at fixed(i) + 8 * n * i
  const lower = `${base.charAt(0).toLowerCase()}${base.slice(1)}`;
  const offsetFunction = (name: string, doc: string, at: number, lists: number) => {
    f.print(f.jsDoc(doc));
    f.print(f.export('function', `${lower}${name}`), '(n: number): number {');
    f.print('  return ', lists === 0 ? `${at} + 0 * n` : `${at} + ${8 * lists} * n`, ';');
    f.print('}');
    f.print();
  };
  for (const [i, list] of lists.entries()) {
    offsetFunction(
      `${pascal(list.localName)}Offset`,
      `Where \`${list.name}\` starts in a frame of \`n\` values per list (a multiple of 8).`,
      fixed(i),
      i,
    );
  }
  offsetFunction(
    'Length',
    `The length of a frame of \`n\` values per list, lists included.`,
    fixed(lists.length),
    lists.length,
  );
  f.print(
    f.jsDoc(
      `Writes the frame of \`${message.typeName} { ${member.name}: ${column.name} }\` for \`n\` values per list at \`pos\` ` +
        `(a multiple of 8): every key, length and enum field; the caller copies the lists in. Returns the frame's length.`,
    ),
  );
  const params = ['u8: Uint8Array', 'pos: number', ...enums.map((e) => `${e.localName}: number`), 'n: number'];
  f.print(f.export('function', `encode${base}Frame`), '(', params.join(', '), '): number {');
  f.print('  const length = ', lower, 'Length(n);');
  f.print('  u8[pos] = ', hex((member.number << 3) | 2), ';');
  f.print('  writePaddedVarint(u8, pos + 1, length - 6, 5);');
  enums.forEach((e, i) => {
    f.print('  u8[pos + ', 6 + 2 * i, '] = ', hex(key(e)), ';');
    f.print('  u8[pos + ', 7 + 2 * i, '] = ', e.localName, ';');
  });
  lists.forEach((list, i) => {
    const width = widths[i]!;
    const keyAt = fixed(i) - width - 1;
    const shift = i === 0 ? '' : ` + ${8 * i} * n`;
    f.print('  u8[pos + ', keyAt, shift, '] = ', hex(key(list)), ';');
    f.print('  writePaddedVarint(u8, pos + ', keyAt + 1, shift, ', 8 * n, ', width, ');');
  });
  f.print('  return length;');
  f.print('}');
  f.print();
}

function generateLayout(f: GeneratedFile): void {
  f.print(
    f.jsDoc(
      'The layout of the buffer shared with the engine (crates/nanocalc-core/src/shared_buffer.rs): three u32 ' +
        'control words, the request from REQUEST_OFFSET, the response after it.',
    ),
  );
  f.print(f.export('const', 'Layout'), ' = {');
  for (const { name, value, doc } of SHARED_BUFFER_LAYOUT) {
    f.print(f.jsDoc(doc, '  '));
    f.print('  ', name, ': ', value > 0xffff ? `0x${value.toString(16)}` : value, ',');
  }
  f.print('} as const;');
  f.print();
}

const snake = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();

/** `wire.rs` of crates/nanocalc-core: the schema's keys and enum values and the shared buffer's layout. */
function generateRust(schema: Schema<Options>): void {
  const f = schema.generateFile('wire.rs');
  const files = schema.files.map((file) => `proto/${file.name}.proto`).join(', ');
  f.print('// @generated by plugin/protoc-gen-nanocalc.ts (lang=rust) from ', files, ': do not edit.');
  f.print('// `npm run gen:codec` regenerates it with its TypeScript twin, src/gen/nanocalc/v1/calculator_codec.ts;');
  f.print('// a test fails when either is stale.');
  f.print();
  f.print('//! The wire facts of the schema and the layout of the shared buffer, as constants: the number and');
  f.print(
    '//! the key byte (field number and wire type) of every field, the values of every enum, and where the control words and the',
  );
  f.print('//! request are. Generated with the TypeScript codec from one source, so the two sides cannot drift.');
  f.print();
  for (const { name, value, rust, doc } of SHARED_BUFFER_LAYOUT) {
    f.print('/// ', doc);
    f.print('pub const ', name, ': ', rust, ' = ', value > 0xffff ? `0x${value.toString(16)}` : value, ';');
  }
  for (const file of schema.files) {
    for (const type of schema.typesInFile(file)) {
      if (type.kind === 'enum') {
        const prefix = type.sharedPrefix ?? '';
        f.print();
        f.print('/// The values of `', type.typeName, '`.');
        f.print('pub mod ', snake(type.name), ' {');
        for (const v of type.values) f.print('    pub const ', v.name.slice(prefix.length), ': i32 = ', v.number, ';');
        f.print('}');
      } else if (type.kind === 'message') {
        f.print();
        f.print('/// Field numbers of the fields of `', type.typeName, '`.');
        f.print('pub mod ', snake(type.name), '_field {');
        for (const field of type.fields)
          f.print('    pub const ', field.name.toUpperCase(), ': u32 = ', field.number, ';');
        f.print('}');
        f.print();
        f.print('/// Key bytes (field number and wire type) of the fields of `', type.typeName, '`.');
        f.print('pub mod ', snake(type.name), '_key {');
        for (const field of type.fields)
          f.print('    pub const ', field.name.toUpperCase(), ': u8 = ', hex(key(field)), ';');
        f.print('}');
      }
    }
  }
}

interface Options {
  lang: 'ts' | 'rust';
}

function parseOptions(raw: { key: string; value: string }[]): Options {
  const options: Options = { lang: 'ts' };
  for (const { key, value } of raw) {
    if (key !== 'lang' || (value !== 'ts' && value !== 'rust')) throw new Error(`unknown option ${key}=${value}`);
    options.lang = value;
  }
  return options;
}

function generateTs(schema: Schema<Options>): void {
  if (schema.options.lang === 'rust') {
    generateRust(schema);
    return;
  }
  for (const file of schema.files) {
    const f = schema.generateFile(`${file.name}_codec.ts`);
    f.preamble(file);
    const depth = file.name.split('/').length; // from src/gen/<file dir> back to src/
    f.print(
      `import { writeInt64Bigint, writeInt64Number, writePaddedVarint, writeSmallVarint } from "${'../'.repeat(depth)}wire.js";`,
    );
    f.print();
    generateLayout(f);
    for (const type of schema.typesInFile(file)) {
      if (type.kind === 'enum') generateEnum(f, type);
    }
    for (const type of schema.typesInFile(file)) {
      if (type.kind !== 'message') continue;
      generateFieldNumbersAndKeys(f, type);
      if (isScalarMessage(type)) generateScalarEncoders(f, type);
      for (const oneof of type.oneofs) generateOneof(f, type, oneof);
    }
  }
}

runNodeJs(createEcmaScriptPlugin({ name: 'protoc-gen-nanocalc', version: 'v1', parseOptions, generateTs }));
