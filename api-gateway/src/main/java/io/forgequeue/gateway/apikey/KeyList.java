package io.forgequeue.gateway.apikey;

import java.util.List;

/**
 * One page of API keys, newest first.
 *
 * @param items      the keys of this page
 * @param page       its number, from 0
 * @param size       the page size asked for
 * @param totalItems keys in all pages
 */
public record KeyList(List<ManagedKey> items, int page, int size, long totalItems) {

    public KeyList {
        items = List.copyOf(items);
    }
}
