/**
 * Values that cannot contain a comma (uuids, and names checked by the rpc layer), joined into
 * one text parameter that SQL splits with `string_to_array($n::text, ',')`. Why not an array
 * parameter: node-pg writes one element by element, through two regex replaces each — the
 * biggest JS cost per job of the statements that pass 1,000 of them (enqueue-jobs.ts,
 * claim-lean.ts). A value with a comma is refused here, never split: `what` names it.
 */
export function joined(values: string[], what: string): string {
  if (values.some((v) => v.includes(','))) throw new Error(`a ${what} contains a comma; it is checked before it reaches the store`);
  return values.join(',');
}
