package io.eventflow.web;

import java.io.Writer;
import java.util.Locale;

/**
 * The first part of a text, up to a number of UTF-8 bytes, and how many bytes of it were left out:
 * what a change card keeps of a message or a value, so that a multi-megabyte row costs the stream
 * (its replay buffer, every browser) no more than the limit. A Writer, so that Jackson writes into
 * it directly and the whole text is never held twice.
 */
final class Excerpt extends Writer {

    private final long limit;
    private final StringBuilder kept;
    private long keptBytes;
    private long leftOutBytes;

    Excerpt(long limitBytes) {
        this.limit = Math.max(0, limitBytes);
        this.kept = new StringBuilder((int) Math.min(this.limit, 4096));
    }

    static Excerpt of(String text, long limitBytes) {
        Excerpt excerpt = new Excerpt(limitBytes);
        excerpt.write(text, 0, text.length());
        return excerpt;
    }

    @Override
    public void write(char[] chars, int offset, int length) {
        for (int i = offset; i < offset + length; i++) {
            add(chars[i]);
        }
    }

    @Override
    public void write(String text, int offset, int length) {
        for (int i = offset; i < offset + length; i++) {
            add(text.charAt(i));
        }
    }

    @Override
    public void write(int c) {
        add((char) c);
    }

    private void add(char c) {
        // UTF-8 length; each half of a surrogate pair counts 2, the pair's 4 bytes
        int bytes = c < 0x80 ? 1 : c < 0x800 || Character.isSurrogate(c) ? 2 : 3;
        if (leftOutBytes == 0 && keptBytes + bytes <= limit) {
            kept.append(c);
            keptBytes += bytes;
            return;
        }
        if (leftOutBytes == 0 && !kept.isEmpty() && Character.isHighSurrogate(kept.charAt(kept.length() - 1))) {
            // never end on half a character
            kept.setLength(kept.length() - 1);
            keptBytes -= 2;
            leftOutBytes += 2;
        }
        leftOutBytes += bytes;
    }

    /** What was kept: the whole text when it was within the limit. */
    String text() {
        return kept.toString();
    }

    long keptBytes() {
        return keptBytes;
    }

    long leftOutBytes() {
        return leftOutBytes;
    }

    boolean isCut() {
        return leftOutBytes > 0;
    }

    /** A byte count as people read it: 1,234,567. */
    static String bytes(long count) {
        return String.format(Locale.ROOT, "%,d", count);
    }

    @Override
    public void flush() {
    }

    @Override
    public void close() {
    }
}
