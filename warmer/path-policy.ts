/**
 * Decides which hinted paths may become a push. The configured pattern says what an
 * image path looks like; the built-in refusals hold even if that pattern is too loose,
 * so a hint can never steer the warmer outside the image namespace or into a header.
 */

// Printable ASCII only, and none of: `%` (encoded traversal), `\`, `?`, `#`, `@`, space.
const SAFE = /^\/[!$&'()*+,\-./0-9:;=A-Z[\]_a-z~]*$/;
const TRAVERSAL = /(^|\/)\.{1,2}(\/|$)|\/\//;

export class PathPolicy {
  private readonly allow: RegExp;

  constructor(allowPattern: string) {
    this.allow = new RegExp(allowPattern);
  }

  allows(path: string): boolean {
    return path.length <= 1024 && SAFE.test(path) && !TRAVERSAL.test(path) && this.allow.test(path);
  }
}
