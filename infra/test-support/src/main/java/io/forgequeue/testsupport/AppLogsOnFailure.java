package io.forgequeue.testsupport;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.LifecycleMethodExecutionExceptionHandler;
import org.junit.jupiter.api.extension.TestWatcher;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * JUnit extension: when a test fails (or a class's {@code @BeforeAll} does), prints on the console the tail of what
 * the apps logged during it ({@link AppLogs}): this JVM's own log and every registered app process log that grew,
 * at most {@value #DEFAULT_LINES} lines each (system property {@value #LINES_PROPERTY}), with the files that hold
 * all of it. It also writes a line into this JVM's own log where each test starts.
 *
 * <p>Active for every test of a module whose {@code src/test/resources/junit-platform.properties} sets
 * {@code junit.jupiter.extensions.autodetection.enabled=true} (this jar lists it in
 * {@code META-INF/services/org.junit.jupiter.api.extension.Extension}).
 */
public final class AppLogsOnFailure
        implements BeforeAllCallback, BeforeEachCallback, TestWatcher, LifecycleMethodExecutionExceptionHandler {

    /** System property: how many lines of each log a failure shows. */
    public static final String LINES_PROPERTY = "forgequeue.test.log-tail-lines";

    static final int DEFAULT_LINES = 40;

    private static final Logger log = LoggerFactory.getLogger(AppLogsOnFailure.class);

    private static final ExtensionContext.Namespace NAMESPACE =
            ExtensionContext.Namespace.create(AppLogsOnFailure.class);

    private static final String LENGTHS = "log-lengths";

    @Override
    public void beforeAll(ExtensionContext context) {
        log.info("==== {} starts", context.getDisplayName());
        context.getStore(NAMESPACE).put(LENGTHS, AppLogs.lengths());
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        log.info("==== {} starts", describe(context));
        context.getStore(NAMESPACE).put(LENGTHS, AppLogs.lengths());
    }

    @Override
    public void testFailed(ExtensionContext context, Throwable cause) {
        report(context);
    }

    @Override
    public void handleBeforeAllMethodExecutionException(ExtensionContext context, Throwable throwable)
            throws Throwable {
        report(context);
        throw throwable;
    }

    @SuppressWarnings("unchecked")
    private static void report(ExtensionContext context) {
        Map<Path, Long> before = context.getStore(NAMESPACE).get(LENGTHS, Map.class);
        String tails =
                AppLogs.tails(before == null ? Map.of() : before, Integer.getInteger(LINES_PROPERTY, DEFAULT_LINES));
        String what = describe(context);
        log.info("==== {} failed", what);
        if (tails.isEmpty()) {
            return;
        }
        System.out.print("\n==== " + what + " failed. What the apps logged meanwhile:\n" + tails
                + "==== end of the app logs of " + what + "\n");
        System.out.flush();
    }

    private static String describe(ExtensionContext context) {
        return context.getTestMethod().isPresent()
                ? context.getRequiredTestClass().getSimpleName() + " > " + context.getDisplayName()
                : context.getDisplayName();
    }
}
