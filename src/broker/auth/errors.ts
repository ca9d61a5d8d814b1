/** Errors of the broker's authentication and ACL files. */

/** A password or ACL file that cannot be read or has a malformed line: names the file and line. */
export class AuthFileError extends Error {
  readonly file: string;
  /** 1-based line number, or undefined when the whole file is at fault (cannot be read). */
  readonly line: number | undefined;

  constructor(file: string, line: number | undefined, problem: string, options?: { cause?: unknown }) {
    super(`${file}${line === undefined ? '' : `:${line}`}: ${problem}`, options);
    this.name = 'AuthFileError';
    this.file = file;
    this.line = line;
  }
}
