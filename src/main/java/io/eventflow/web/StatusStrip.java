package io.eventflow.web;

import java.util.Locale;

import io.eventflow.CaptureStats;

import static io.eventflow.web.Html.escape;

/**
 * The page's status strip: changes published in total, backlog (committed, not yet published), lag
 * (age of the oldest unpublished change) and events per second, measured between two renderings;
 * when there are any, the changes set aside unpublished and the snapshot running; and two small
 * charts of events per second and lag over the last renderings, drawn here as SVG (no script,
 * nothing from elsewhere).
 */
public class StatusStrip {

    static final int CHART_WIDTH = 160;
    static final int CHART_HEIGHT = 28;

    private final CaptureStats stats;
    private final double[] rates;
    private final double[] lags;
    private final long intervalMs;
    private int samples;
    private int next;
    private long lastTotal = -1;
    private long lastNanos;
    private double perSecond;

    /**
     * @param history how many renderings the charts show
     * @param intervalMs how often the strip is rendered (for the charts' captions)
     */
    public StatusStrip(CaptureStats stats, int history, long intervalMs) {
        this.stats = stats;
        this.rates = new double[Math.max(2, history)];
        this.lags = new double[Math.max(2, history)];
        this.intervalMs = intervalMs;
    }

    public synchronized String render() {
        long total = stats.getPublishedTotal();
        long now = System.nanoTime();
        boolean measured = lastTotal >= 0 && now > lastNanos;
        if (measured) {
            perSecond = Math.max(0, total - lastTotal) / ((now - lastNanos) / 1e9);
        }
        lastTotal = total;
        lastNanos = now;
        double lag = stats.getLagSeconds();
        if (measured) {
            rates[next] = perSecond;
            lags[next] = lag;
            next = (next + 1) % rates.length;
            samples = Math.min(samples + 1, rates.length);
        }
        String error = stats.getLastError();
        return "<dl class=\"stats\">"
                + item("published", "published", String.valueOf(total))
                + item("backlog", "backlog", String.valueOf(stats.getBacklog()))
                + item("lag", "lag", String.format(Locale.ROOT, "%.1f s", lag))
                + item("rate", "events/s", String.format(Locale.ROOT, "%.1f", perSecond))
                // changes the broker could not take at all (too large), kept in eventflow.failed_change
                + (stats.getFailedTotal() == 0 ? "" : item("failed", "set aside", String.valueOf(stats.getFailedTotal())))
                // an incremental snapshot running: which table, how far
                + (stats.getSnapshotProgress().isEmpty() ? "" : item("snapshot", "snapshot", stats.getSnapshotProgress()))
                + "</dl>"
                + "<div class=\"charts\">" + chart("rate-chart", "events/s", rates, "%.0f") + chart("lag-chart", "lag", lags, "%.1f s") + "</div>"
                + (error.isEmpty() ? "" : "<p class=\"problem\">" + escape(error) + "</p>");
    }

    /** The samples, oldest first, as a line scaled to the largest of them (the caption says which it is). */
    private String chart(String key, String label, double[] values, String format) {
        double max = 0;
        for (int i = 0; i < samples; i++) {
            max = Math.max(max, values[i]);
        }
        StringBuilder points = new StringBuilder();
        int first = samples < values.length ? 0 : next;
        double step = CHART_WIDTH / (double) (values.length - 1);
        // the newest sample at the right edge, older ones to its left
        int offset = values.length - samples;
        for (int i = 0; i < samples; i++) {
            double v = values[(first + i) % values.length];
            double y = max <= 0 ? CHART_HEIGHT : CHART_HEIGHT - v / max * (CHART_HEIGHT - 2) - 1;
            points.append(String.format(Locale.ROOT, "%s%.1f,%.1f", i == 0 ? "" : " ", (offset + i) * step, y));
        }
        long seconds = Math.round(values.length * intervalMs / 1000.0);
        String span = seconds >= 120 ? seconds / 60 + " min" : seconds + " s";
        String caption = label + ", last " + span + ", peak " + String.format(Locale.ROOT, format, max);
        return "<figure data-chart=\"" + key + "\"><svg viewBox=\"0 0 " + CHART_WIDTH + " " + CHART_HEIGHT + "\" width=\"" + CHART_WIDTH
                + "\" height=\"" + CHART_HEIGHT + "\" role=\"img\" aria-label=\"" + escape(caption) + "\"><title>" + escape(caption)
                + "</title><polyline fill=\"none\" stroke=\"currentColor\" stroke-width=\"1.5\" points=\"" + points + "\"/></svg>"
                + "<figcaption>" + escape(caption) + "</figcaption></figure>";
    }

    private static String item(String key, String label, String value) {
        return "<div data-stat=\"" + key + "\"><dt>" + escape(label) + "</dt><dd>" + escape(value) + "</dd></div>";
    }
}
