/**
 * Picking one series out of a Prometheus text exposition, for tests that parse
 * it with parse-prometheus-text-format (which cannot select by label): the
 * lines of one histogram series, its identifying labels removed, so the
 * library parses that series alone.
 */
import { escapeLabel } from '../../src/stats/prometheus.js'

/** `labels` → `pool="x",server="y"` as rendered, to pick a series' lines. */
export function labelText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
    .join(',')
}

/**
 * The `# TYPE` line and the `_bucket`, `_sum` and `_count` lines of the series
 * of histogram `family` with exactly `labels`, with those labels removed.
 */
export function histogramLines(
  text: string,
  family: string,
  labels: Record<string, string>,
): string[] {
  const lt = labelText(labels)
  return text
    .split('\n')
    .filter(
      (l) =>
        l === `# TYPE ${family} histogram` ||
        l.startsWith(`${family}_bucket{${lt},le=`) ||
        l.startsWith(`${family}_sum{${lt}} `) ||
        l.startsWith(`${family}_count{${lt}} `),
    )
    .map((l) => l.replace(`{${lt},`, '{').replace(`{${lt}} `, ' '))
}
