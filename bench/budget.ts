// A time budget for a measuring loop. Every loop in the benchmark is bounded twice: by its planned
// count and by its budget, so a slow machine yields fewer samples (reported) instead of a hung run.

export interface Budget {
  /** True once the budget is used up; a loop still completes the round it is in. */
  spent(): boolean;
}

export function budget(ms: number): Budget {
  const deadline = performance.now() + ms;
  return { spent: () => performance.now() >= deadline };
}
