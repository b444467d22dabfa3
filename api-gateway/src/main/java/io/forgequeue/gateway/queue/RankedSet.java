package io.forgequeue.gateway.queue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

/**
 * A sorted set that also answers "how many elements come before this one" (an order-statistic set), for queue
 * positions among up to hundreds of thousands of waiting jobs: elements are kept in sorted blocks of at most
 * {@value #BLOCK} elements, so insert, remove and rank cost one binary search over the blocks, one within a block,
 * and a sum over the sizes of the blocks before (about n / 512 additions). Elements must be distinct under the
 * comparator. Not thread-safe.
 */
final class RankedSet<E> implements Iterable<E> {

    static final int BLOCK = 512;

    private final Comparator<? super E> order;
    private final List<List<E>> blocks = new ArrayList<>();
    private int size;

    RankedSet(Comparator<? super E> order) {
        this.order = order;
    }

    int size() {
        return size;
    }

    /** Adds {@code e}; false when an equal element is already there. */
    boolean add(E e) {
        if (blocks.isEmpty()) {
            List<E> first = new ArrayList<>();
            first.add(e);
            blocks.add(first);
            size = 1;
            return true;
        }
        int b = blockFor(e);
        List<E> block = blocks.get(b);
        int i = Collections.binarySearch(block, e, order);
        if (i >= 0) {
            return false;
        }
        block.add(-i - 1, e);
        size++;
        if (block.size() > BLOCK) {
            List<E> upper = new ArrayList<>(block.subList(BLOCK / 2, block.size()));
            block.subList(BLOCK / 2, block.size()).clear();
            blocks.add(b + 1, upper);
        }
        return true;
    }

    /** Removes the element equal to {@code e}; false when there is none. */
    boolean remove(E e) {
        if (blocks.isEmpty()) {
            return false;
        }
        int b = blockFor(e);
        List<E> block = blocks.get(b);
        int i = Collections.binarySearch(block, e, order);
        if (i < 0) {
            return false;
        }
        block.remove(i);
        size--;
        if (block.isEmpty()) {
            blocks.remove(b);
        } else if (b + 1 < blocks.size() && block.size() + blocks.get(b + 1).size() <= BLOCK / 2) {
            block.addAll(blocks.remove(b + 1));
        }
        return true;
    }

    /** How many elements sort before {@code e} (whether or not {@code e} itself is in the set). */
    int rank(E e) {
        int before = 0;
        for (List<E> block : blocks) {
            if (order.compare(block.get(block.size() - 1), e) < 0) {
                before += block.size();
                continue;
            }
            int i = Collections.binarySearch(block, e, order);
            return before + (i >= 0 ? i : -i - 1);
        }
        return before;
    }

    E first() {
        if (blocks.isEmpty()) {
            throw new NoSuchElementException();
        }
        return blocks.get(0).get(0);
    }

    void clear() {
        blocks.clear();
        size = 0;
    }

    /** The block whose range holds {@code e}: the first whose last element is not below it (or the last block). */
    private int blockFor(E e) {
        int lo = 0;
        int hi = blocks.size() - 1;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            List<E> block = blocks.get(mid);
            if (order.compare(block.get(block.size() - 1), e) < 0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    /** In order; the set must not change while iterating. */
    @Override
    public Iterator<E> iterator() {
        return blocks.stream().flatMap(List::stream).iterator();
    }
}
