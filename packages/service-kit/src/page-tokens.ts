import { createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidArgumentError } from './errors';

/**
 * Opaque, tamper-evident page tokens: base64url(JSON cursor) + "." + HMAC-SHA256 over the
 * cursor and a `binding` string (tenant and filters of the request). A token is therefore
 * valid only with the same tenant and filters it was issued for, and any edit fails the MAC.
 * Hand-written because it is ten lines over node:crypto; a JWT library would add claims and
 * algorithms we do not want to accept.
 */
export class PageTokens {
  constructor(private readonly secret: string) {}

  encode(cursor: unknown, binding: string): string {
    const body = Buffer.from(JSON.stringify(cursor)).toString('base64url');
    return `${body}.${this.mac(body, binding)}`;
  }

  /** Returns the cursor, `undefined` for an empty token, or throws INVALID_ARGUMENT. */
  decode<T>(token: string | undefined, binding: string, field = 'page.page_token'): T | undefined {
    if (!token) return undefined;
    const bad = () =>
      new InvalidArgumentError([
        {
          field,
          reason: 'MALFORMED',
          description: `${field} is not a token this service issued for these filters; pass next_page_token unchanged, with the same filters, or omit it to start over`,
        },
      ]);
    const dot = token.indexOf('.');
    if (dot <= 0 || token.length > 2048) throw bad();
    const body = token.slice(0, dot);
    const mac = Buffer.from(token.slice(dot + 1));
    const expected = Buffer.from(this.mac(body, binding));
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) throw bad();
    try {
      return JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as T;
    } catch {
      throw bad();
    }
  }

  private mac(body: string, binding: string): string {
    return createHmac('sha256', this.secret).update(binding).update('\0').update(body).digest('base64url');
  }
}
