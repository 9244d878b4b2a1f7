/**
 * Splits a SQL script into statements on `;`, ignoring semicolons inside quotes ('', "", ``)
 * and comments (-- and /* *\/). A ClickHouse server runs one statement per HTTP request, so a
 * migration file with several statements must be sent one by one. Comment-only pieces are
 * dropped. Hand-written: @clickhouse/client has no script runner, and the general SQL
 * splitters on npm follow other dialects' quoting; our migrations need only these rules.
 */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let current = '';
  let hasCode = false;
  let i = 0;
  const push = () => {
    if (hasCode) out.push(current.trim());
    current = '';
    hasCode = false;
  };
  while (i < sql.length) {
    const c = sql[i];
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end === -1 ? sql.length : end;
      current += sql.slice(i, stop);
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      if (end === -1) throw new Error('unterminated /* comment in SQL');
      current += sql.slice(i, end + 2);
      i = end + 2;
    } else if (c === "'" || c === '"' || c === '`') {
      // ClickHouse escapes a quote inside a literal by doubling it or with a backslash.
      let j = i + 1;
      while (j < sql.length) {
        if (sql[j] === '\\') j += 2;
        else if (sql[j] === c && sql[j + 1] === c) j += 2;
        else if (sql[j] === c) break;
        else j++;
      }
      if (j >= sql.length) throw new Error(`unterminated ${c} quote in SQL`);
      current += sql.slice(i, j + 1);
      hasCode = true;
      i = j + 1;
    } else if (c === ';') {
      push();
      i++;
    } else {
      current += c;
      if (!/\s/.test(c)) hasCode = true;
      i++;
    }
  }
  push();
  return out;
}
