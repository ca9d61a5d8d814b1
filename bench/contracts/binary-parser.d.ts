// binary-parser ships its types at dist/binary_parser.d.ts but its ESM entry has none; point TS there.
declare module 'binary-parser' {
  export { Parser } from 'binary-parser/dist/binary_parser.js';
}
