package io.forgequeue.testsupport;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class FreshNamesTest {

    private static final long PID = ProcessHandle.current().pid();

    @Test
    void databaseNamesAreLowerCaseIdentifiersOfAtMost63Bytes() {
        String name = FreshNames.database("Gateway IT: Job-Repository, with a very long descriptive prefix indeed");

        assertThat(name)
                .matches("[a-z_][a-z0-9_]*")
                .hasSizeLessThanOrEqualTo(63)
                .startsWith("gateway_it__job_repository");
    }

    @Test
    void databaseNamesStartWithALetterEvenForANumericPrefix() {
        assertThat(FreshNames.database("42")).startsWith("t_42_fq");
    }

    @Test
    void virtualHostNamesKeepDashesAndDots() {
        assertThat(FreshNames.virtualHost("gpu-worker.it")).startsWith("gpu-worker.it_fq" + PID + "_");
    }

    @Test
    void freshNamesCarryTheCreatingPidAndDiffer() {
        Set<String> names = new HashSet<>();
        for (int i = 0; i < 100; i++) {
            names.add(FreshNames.virtualHost("x"));
        }

        assertThat(names)
                .hasSize(100)
                .allSatisfy(name -> assertThat(FreshNames.creatorPid(name)).hasValue(PID));
    }

    @Test
    void namesNotMadeByTheHarnessHaveNoCreator() {
        assertThat(FreshNames.creatorPid("/")).isEmpty();
        assertThat(FreshNames.creatorPid("forgequeue")).isEmpty();
        assertThat(FreshNames.creatorPid("jobs_fq12_ABCDEF")).isEmpty();
    }
}
