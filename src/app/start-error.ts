/**
 * A process could not start for a reason its operator can fix (a port in use, an unreadable or
 * corrupt file, a store that does not open). The message says what is wrong, without the command's
 * name: the command line prefixes it and prints it without a stack trace (exit code 1).
 */
export class StartError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StartError';
  }
}
