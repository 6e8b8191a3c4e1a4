/**
 * The end of the rotation period `now` is in, as rotating-file-stream computes it (so a
 * multi-worker server rotates at the same moments a single process does): `s`/`m` periods are
 * multiples of the period since the epoch; `h` periods start at local hours that are multiples
 * of the count; `d` at local midnight plus the count in days; `M` at the first of the month.
 * `interval` is the configured text as rotating-file-stream spells it (`30m`, `12h`, `1d`, `1M`).
 */
export function nextIntervalBoundary(interval: string, now: Date): number {
  const m = /^(\d+)([smhdM])$/.exec(interval);
  if (!m) throw new Error(`not a rotation interval: ${interval}`);
  const num = Number(m[1]);
  const unit = m[2]!;
  if (unit === 's' || unit === 'm') {
    const period = num * (unit === 'm' ? 60_000 : 1000);
    return Math.floor(now.getTime() / period) * period + period;
  }
  const year = now.getFullYear();
  let month = now.getMonth();
  let day = now.getDate();
  let hours = now.getHours();
  if (unit === 'M') {
    day = 1;
    hours = 0;
    month += num;
  } else if (unit === 'd') {
    hours = 0;
    day += num;
  } else {
    hours = Math.floor(hours / num) * num + num;
  }
  return new Date(year, month, day, hours, 0, 0, 0).getTime();
}
