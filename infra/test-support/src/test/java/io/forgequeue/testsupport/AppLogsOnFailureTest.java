package io.forgequeue.testsupport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;

/**
 * A failing test shows what the apps logged during it, and only that (issue 15: the test command's output was
 * thousands of lines of app logs). The example tests run in a launcher of their own, with the extension found the
 * way the modules find it (auto-detection through this jar's service file).
 */
class AppLogsOnFailureTest {

    /** Set while this class launches the examples; they skip themselves in a normal run. */
    static volatile Path exampleLog;

    @Test
    void aFailingTestPrintsTheLinesItsAppsLoggedDuringItWithTheirFile(@TempDir Path dir) throws IOException {
        Path appLog = AppLogs.register("example-worker", dir.resolve("example-worker.log"));
        Files.writeString(appLog, "logged before the test\n");

        String console = launch(FailingExample.class, appLog);

        assertThat(console)
                .contains(
                        "==== FailingExample > failsAfterTheAppLogged() failed. What the apps logged " + "meanwhile:",
                        "---- example-worker: " + appLog,
                        "the app's last words",
                        "==== end of the app logs of FailingExample > failsAfterTheAppLogged()");
        assertThat(console).doesNotContain("logged before the test");
    }

    @Test
    void aPassingTestPrintsNothing(@TempDir Path dir) throws IOException {
        Path appLog = AppLogs.register("example-worker", dir.resolve("example-worker.log"));

        String console = launch(PassingExample.class, appLog);

        assertThat(console).isEmpty();
    }

    @Test
    void aLongLogShowsOnlyItsLastLines(@TempDir Path dir) throws IOException {
        Path appLog = AppLogs.register("chatty", dir.resolve("chatty.log"));
        Map<Path, Long> before = AppLogs.lengths();

        Files.writeString(
                appLog,
                IntStream.rangeClosed(1, 100).mapToObj(i -> "line " + i + "\n").collect(Collectors.joining()),
                StandardOpenOption.CREATE,
                StandardOpenOption.APPEND);
        String tails = AppLogs.tails(before, 40);

        assertThat(tails)
                .contains("---- chatty: " + appLog + " (its last 40 lines of this test)", "line 61\n", "line 100\n");
        assertThat(tails).doesNotContain("line 60\n");
    }

    @Test
    void aLogThatDidNotGrowIsLeftOut(@TempDir Path dir) throws IOException {
        Path appLog = AppLogs.register("quiet", dir.resolve("quiet.log"));
        Files.writeString(appLog, "old news\n");
        Map<Path, Long> before = AppLogs.lengths();

        String tails = AppLogs.tails(before, 40);

        assertThat(tails).doesNotContain("quiet");
    }

    private static String launch(Class<?> example, Path appLog) {
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream console = System.out;
        exampleLog = appLog;
        SummaryGeneratingListener summary = new SummaryGeneratingListener();
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            Launcher launcher = LauncherFactory.create();
            launcher.execute(
                    LauncherDiscoveryRequestBuilder.request()
                            .selectors(selectClass(example))
                            .configurationParameter("junit.jupiter.extensions.autodetection.enabled", "true")
                            .build(),
                    summary);
        } finally {
            System.setOut(console);
            exampleLog = null;
        }
        assertThat(summary.getSummary().getTestsFoundCount()).isEqualTo(1);
        return captured.toString(StandardCharsets.UTF_8);
    }

    static class FailingExample {

        @Test
        void failsAfterTheAppLogged() throws IOException {
            assumeTrue(exampleLog != null, "run by AppLogsOnFailureTest only");
            Files.writeString(
                    exampleLog, "the app's last words\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            fail("the example fails");
        }
    }

    static class PassingExample {

        @Test
        void passesAfterTheAppLogged() throws IOException {
            assumeTrue(exampleLog != null, "run by AppLogsOnFailureTest only");
            Files.writeString(exampleLog, "all is well\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        }
    }
}
