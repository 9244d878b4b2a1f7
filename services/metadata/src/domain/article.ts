/** "an active", "a paused": a status with its indefinite article, for error messages. */
export function withArticle(word: string): string {
  return `${/^[aeiou]/i.test(word) ? 'an' : 'a'} ${word}`;
}
