/**
 * Runs transfer jobs with bounded concurrency, in submission order of start.
 * The first failure stops new jobs from starting and is rethrown once the jobs
 * already running have settled (so nothing is left writing behind our back).
 */
export async function runTransfers<T>(jobs: ReadonlyArray<() => Promise<T>>, concurrency: number): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < jobs.length) {
      const i = next++;
      try {
        results[i] = await jobs[i]!();
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, jobs.length)) }, worker));
  if (failure) throw failure.err;
  return results;
}
