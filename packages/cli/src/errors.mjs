// A UserError is something the person running `npm start` can fix (a port in use, a server that
// does not answer, a bad URL). main.mjs prints its message as ONE line, without a stack trace;
// anything else is a bug in the launcher and keeps its stack.

export class UserError extends Error {
  /**
   * @param {string} message one line that says what is wrong and how to fix it
   * @param {{ cause?: unknown }} [options]
   */
  constructor(message, options) {
    super(message, options);
    this.name = 'UserError';
  }
}

/** Coerces anything thrown into an Error, so callers can read `.message` and `.code`. */
export function asError(thrown) {
  return thrown instanceof Error ? thrown : new Error(String(thrown));
}
