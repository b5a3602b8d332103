package io.eventflow.web;

import java.util.Locale;

import io.eventflow.CaptureStats;

import static io.eventflow.web.Html.escape;

/**
 * The page's status strip: changes published in total, backlog (committed, not yet published), lag
 * (age of the oldest unpublished change) and events per second, measured between two renderings;
 * and, when there are any, the changes set aside unpublished.
 */
public class StatusStrip {

    private final CaptureStats stats;
    private long lastTotal = -1;
    private long lastNanos;
    private double perSecond;

    public StatusStrip(CaptureStats stats) {
        this.stats = stats;
    }

    public synchronized String render() {
        long total = stats.getPublishedTotal();
        long now = System.nanoTime();
        if (lastTotal >= 0 && now > lastNanos) {
            perSecond = Math.max(0, total - lastTotal) / ((now - lastNanos) / 1e9);
        }
        lastTotal = total;
        lastNanos = now;
        String error = stats.getLastError();
        return "<dl class=\"stats\">"
                + item("published", "published", String.valueOf(total))
                + item("backlog", "backlog", String.valueOf(stats.getBacklog()))
                + item("lag", "lag", String.format(Locale.ROOT, "%.1f s", stats.getLagSeconds()))
                + item("rate", "events/s", String.format(Locale.ROOT, "%.1f", perSecond))
                // changes the broker could not take at all (too large), kept in eventflow.failed_change
                + (stats.getFailedTotal() == 0 ? "" : item("failed", "set aside", String.valueOf(stats.getFailedTotal())))
                + "</dl>"
                + (error.isEmpty() ? "" : "<p class=\"problem\">" + escape(error) + "</p>");
    }

    private static String item(String key, String label, String value) {
        return "<div data-stat=\"" + key + "\"><dt>" + escape(label) + "</dt><dd>" + escape(value) + "</dd></div>";
    }
}
