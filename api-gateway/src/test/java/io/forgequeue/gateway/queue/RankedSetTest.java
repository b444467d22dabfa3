package io.forgequeue.gateway.queue;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The order-statistic set behind queue positions, checked against a {@link TreeSet} doing the same. */
class RankedSetTest {

    private static List<Integer> listOf(Iterable<Integer> set) {
        List<Integer> out = new ArrayList<>();
        set.forEach(out::add);
        return out;
    }

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 7, 42, 2024})
    void behavesLikeASortedSetWhoseHeadSetSizeIsTheRankUnderRandomAddsAndRemoves(long seed) {
        Random random = new Random(seed);
        RankedSet<Integer> ranked = new RankedSet<>(Comparator.naturalOrder());
        TreeSet<Integer> model = new TreeSet<>();
        // a value range of a few blocks, and phases that grow and shrink the set, so blocks split, empty and merge
        int range = RankedSet.BLOCK * 6;

        for (int step = 0; step < 60_000; step++) {
            int value = random.nextInt(range);
            boolean growing = (step / 10_000) % 2 == 0;
            int op = random.nextInt(10);
            // plain comparisons in the loop (60,000 AssertJ assertions per seed cost seconds); AssertJ on a mismatch
            if (op < (growing ? 6 : 3)) {
                boolean added = ranked.add(value);
                if (added != model.add(value)) {
                    assertThat(added).as("step %d: add %d", step, value).isEqualTo(!added);
                }
            } else if (op < 8) {
                boolean removed = ranked.remove(value);
                if (removed != model.remove(value)) {
                    assertThat(removed).as("step %d: remove %d", step, value).isEqualTo(!removed);
                }
            } else if (ranked.rank(value) != model.headSet(value).size()) {
                assertThat(ranked.rank(value))
                        .as("step %d: rank of %d", step, value)
                        .isEqualTo(model.headSet(value).size());
            }
            if (ranked.size() != model.size()) {
                assertThat(ranked.size()).as("step %d: size", step).isEqualTo(model.size());
            }
            if (step % 5_000 == 0) {
                assertThat(listOf(ranked)).isEqualTo(new ArrayList<>(model));
                if (!model.isEmpty()) {
                    assertThat(ranked.first()).isEqualTo(model.first());
                }
            }
        }
        assertThat(listOf(ranked)).isEqualTo(new ArrayList<>(model));
        for (int value = -1; value <= range; value += 37) {
            assertThat(ranked.rank(value)).isEqualTo(model.headSet(value).size());
        }
    }

    @Test
    void ranksOfAscendingAndDescendingInsertsAcrossManyBlocks() {
        RankedSet<Integer> ascending = new RankedSet<>(Comparator.naturalOrder());
        RankedSet<Integer> descending = new RankedSet<>(Comparator.naturalOrder());
        int n = RankedSet.BLOCK * 5 + 17;

        for (int i = 0; i < n; i++) {
            ascending.add(i * 2);
            descending.add((n - 1 - i) * 2);
        }

        for (int i = 0; i < n; i++) {
            assertThat(ascending.rank(i * 2)).isEqualTo(i);
            assertThat(descending.rank(i * 2)).isEqualTo(i);
            assertThat(ascending.rank(i * 2 + 1))
                    .as("a value between two elements")
                    .isEqualTo(i + 1);
        }
        assertThat(ascending.rank(Integer.MAX_VALUE)).isEqualTo(n);
        assertThat(listOf(descending)).isEqualTo(listOf(ascending));
    }

    @Test
    void refusesDuplicatesAndIgnoresRemovalsOfAbsentElements() {
        RankedSet<String> set = new RankedSet<>(Comparator.naturalOrder());

        assertThat(set.remove("a")).isFalse();
        assertThat(set.add("b")).isTrue();
        assertThat(set.add("b")).isFalse();
        assertThat(set.remove("a")).isFalse();

        assertThat(set.size()).isEqualTo(1);
        assertThat(set.first()).isEqualTo("b");
    }

    @Test
    void anEmptySetHasNoFirstElementAndRanksEverythingFirst() {
        RankedSet<Integer> set = new RankedSet<>(Comparator.naturalOrder());
        set.add(1);
        set.clear();

        assertThat(set.size()).isZero();
        assertThat(set.rank(5)).isZero();
        assertThat(set.iterator().hasNext()).isFalse();
        assertThatThrownBy(set::first).isInstanceOf(NoSuchElementException.class);
    }
}
