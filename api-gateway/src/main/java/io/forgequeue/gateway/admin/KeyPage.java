package io.forgequeue.gateway.admin;

import java.util.List;

/**
 * A page of API keys, newest first.
 *
 * @param items      the keys
 * @param page       this page's number, from 0
 * @param size       the page size asked for
 * @param totalItems keys in all pages
 * @param totalPages pages of this size
 */
record KeyPage(List<KeyView> items, int page, int size, long totalItems, long totalPages) {

    KeyPage {
        items = List.copyOf(items);
    }
}
