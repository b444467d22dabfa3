package io.forgequeue.systemtest.ops;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Reads the entries of a tar stream (POSIX ustar with pax extended headers, as Jib and Ant write them, and GNU long
 * names), enough to look inside image archives and their layers. Not thread-safe; static.
 */
final class TarEntries {

    private static final int BLOCK = 512;

    /**
     * One entry.
     *
     * @param name    path inside the archive, without a leading "./"
     * @param type    the ustar type flag ('0' a file, '5' a directory, '2' a symbolic link, ...)
     * @param size    size of the content in bytes
     * @param content the content if the caller asked for it (regular files only), else null
     */
    record Entry(String name, char type, long size, byte[] content) {

        boolean isFile() {
            return type == '0' || type == '\0' || type == '7';
        }

        boolean isDirectory() {
            return type == '5';
        }
    }

    private TarEntries() {}

    /** Every entry of the stream; the content of the regular files whose name {@code keepContent} accepts. */
    static List<Entry> read(InputStream in, Predicate<String> keepContent) throws IOException {
        List<Entry> entries = new ArrayList<>();
        Map<String, String> pax = Map.of();
        String longName = null;
        while (true) {
            byte[] header = in.readNBytes(BLOCK);
            if (header.length < BLOCK || isZero(header)) {
                return entries;
            }
            char type = (char) header[156];
            long size = octal(header, 124, 12);
            if (type == 'x' || type == 'g' || type == 'L') {
                byte[] data = content(in, size);
                if (type == 'x') {
                    pax = paxRecords(data);
                } else if (type == 'L') {
                    longName = string(data, 0, data.length);
                }
                continue;
            }
            String name = string(header, 0, 100);
            String prefix = isUstar(header) ? string(header, 345, 155) : "";
            if (!prefix.isEmpty()) {
                name = prefix + "/" + name;
            }
            if (longName != null) {
                name = longName;
            }
            if (pax.containsKey("path")) {
                name = pax.get("path");
            }
            if (pax.containsKey("size")) {
                size = Long.parseLong(pax.get("size"));
            }
            if (name.startsWith("./")) {
                name = name.substring(2);
            }
            Entry entry = new Entry(name, type, size, null);
            if (entry.isFile() && keepContent.test(name)) {
                entry = new Entry(name, type, size, content(in, size));
            } else {
                skip(in, size);
            }
            entries.add(entry);
            pax = Map.of();
            longName = null;
        }
    }

    private static byte[] content(InputStream in, long size) throws IOException {
        if (size > Integer.MAX_VALUE - BLOCK) {
            throw new IOException("tar entry too large to hold in memory: " + size + " bytes");
        }
        byte[] data = in.readNBytes((int) size);
        if (data.length < size) {
            throw new IOException("tar stream ends inside an entry");
        }
        in.skipNBytes(padding(size));
        return data;
    }

    private static void skip(InputStream in, long size) throws IOException {
        in.skipNBytes(size + padding(size));
    }

    private static long padding(long size) {
        return (BLOCK - size % BLOCK) % BLOCK;
    }

    private static boolean isZero(byte[] block) {
        for (byte b : block) {
            if (b != 0) {
                return false;
            }
        }
        return true;
    }

    private static boolean isUstar(byte[] header) {
        return string(header, 257, 5).equals("ustar");
    }

    private static String string(byte[] bytes, int offset, int length) {
        int end = offset;
        while (end < offset + length && bytes[end] != 0) {
            end++;
        }
        return new String(bytes, offset, end - offset, StandardCharsets.UTF_8);
    }

    private static long octal(byte[] header, int offset, int length) throws IOException {
        if ((header[offset] & 0x80) != 0) {
            throw new IOException("tar entry with a base-256 size (over 8 GiB) is not supported");
        }
        String digits = string(header, offset, length).trim();
        return digits.isEmpty() ? 0 : Long.parseLong(digits, 8);
    }

    /** "len key=value\n" records of a pax extended header. */
    private static Map<String, String> paxRecords(byte[] data) {
        Map<String, String> records = new HashMap<>();
        int pos = 0;
        while (pos < data.length) {
            int space = pos;
            while (space < data.length && data[space] != ' ') {
                space++;
            }
            if (space >= data.length) {
                break;
            }
            int length = Integer.parseInt(new String(data, pos, space - pos, StandardCharsets.US_ASCII));
            if (length <= 0) {
                break;
            }
            String record = new String(data, space + 1, pos + length - space - 2, StandardCharsets.UTF_8);
            int eq = record.indexOf('=');
            if (eq > 0) {
                records.put(record.substring(0, eq), record.substring(eq + 1));
            }
            pos += length;
        }
        return records;
    }
}
