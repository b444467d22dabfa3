package io.forgequeue.gateway;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Module and package boundaries of the gateway (model: JobRunr's PackageDependenciesTest). */
class ArchitectureTest {

    /** SQL that writes the job table, its history or its images. */
    private static final Pattern JOB_STATE_WRITE =
            Pattern.compile("(?i)\\b(update|insert\\s+into|delete\\s+from|merge\\s+into|truncate(\\s+table)?)\\s+"
                    + "(only\\s+)?(job|job_state_history|job_image)\\b");

    private final JavaClasses classes = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("io.forgequeue.gateway");

    @Test
    void gatewayNeverReferencesTheWorker() {
        noClasses()
                .should()
                .dependOnClassesThat()
                .resideInAPackage("io.forgequeue.worker..")
                .check(classes);
    }

    @Test
    void featurePackagesHaveNoCycles() {
        slices().matching("io.forgequeue.gateway.(*)..")
                .should()
                .beFreeOfCycles()
                .check(classes);
    }

    @Test
    void systemWiringDependsOnNoFeature() {
        noClasses()
                .that()
                .resideInAPackage("io.forgequeue.gateway.system..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage(
                        "io.forgequeue.gateway.job..",
                        "io.forgequeue.gateway.event..",
                        "io.forgequeue.gateway.relay..",
                        "io.forgequeue.gateway.outbox..",
                        "io.forgequeue.gateway.queue..",
                        "io.forgequeue.gateway.sweep..",
                        "io.forgequeue.gateway.apikey..",
                        "io.forgequeue.gateway.quota..",
                        "io.forgequeue.gateway.fleet..",
                        "io.forgequeue.gateway.schedule..")
                .check(classes);
    }

    @Test
    void quotasAndTheFleetDependOnNoOtherFeature() {
        noClasses()
                .that()
                .resideInAnyPackage("io.forgequeue.gateway.quota..", "io.forgequeue.gateway.fleet..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage(
                        "io.forgequeue.gateway.job..",
                        "io.forgequeue.gateway.event..",
                        "io.forgequeue.gateway.relay..",
                        "io.forgequeue.gateway.outbox..",
                        "io.forgequeue.gateway.queue..",
                        "io.forgequeue.gateway.sweep..",
                        "io.forgequeue.gateway.apikey..",
                        "io.forgequeue.gateway.schedule..",
                        "io.forgequeue.gateway.system..")
                .check(classes);
    }

    @Test
    void nothingButTheSchedulerDependsOnTheScheduler() {
        noClasses()
                .that()
                .resideOutsideOfPackage("io.forgequeue.gateway.schedule..")
                .should()
                .dependOnClassesThat()
                .resideInAPackage("io.forgequeue.gateway.schedule..")
                .check(classes);
    }

    @Test
    void onlyTheSchedulerMakesTheSchedulersMovesOfJobState() {
        noClasses()
                .that()
                .resideOutsideOfPackages("io.forgequeue.gateway.job..", "io.forgequeue.gateway.schedule..")
                .should()
                .accessClassesThat()
                .haveFullyQualifiedName("io.forgequeue.gateway.job.JobMoves")
                .check(classes);
    }

    @Test
    void onlyTheMergeAndTheStuckSweepMakeTheirMovesOfJobState() {
        noClasses()
                .that()
                .resideOutsideOfPackages("io.forgequeue.gateway.job..", "io.forgequeue.gateway.event..")
                .should()
                .accessClassesThat()
                .haveFullyQualifiedName("io.forgequeue.gateway.job.EventMoves")
                .check(classes);
        noClasses()
                .that()
                .resideOutsideOfPackages("io.forgequeue.gateway.job..", "io.forgequeue.gateway.sweep..")
                .should()
                .accessClassesThat()
                .haveFullyQualifiedName("io.forgequeue.gateway.job.StuckJobMoves")
                .check(classes);
    }

    /**
     * The job package owns job state: the job table, its history and its images are written only by its statements,
     * built from the transition table (docs/architecture.md, "Who owns what"). ArchUnit cannot read SQL, so this scans
     * the sources for SQL that writes those tables; the rules below keep the statements where this scan finds them.
     */
    @Test
    void onlyTheJobPackageHasSqlThatWritesJobState() throws IOException {
        Path sources = Path.of("src/main/java/io/forgequeue/gateway");
        Set<String> writers = new TreeSet<>();
        try (Stream<Path> files = Files.walk(sources)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".java")).toList()) {
                if (JOB_STATE_WRITE.matcher(Files.readString(file)).find()) {
                    writers.add(sources.relativize(file).toString());
                }
            }
        }

        assertThat(writers)
                .as("sources with SQL that writes job, job_state_history or job_image")
                .isNotEmpty()
                .allSatisfy(file -> assertThat(file).matches("job/[A-Za-z]+\\.java"));
    }

    /** The scan above must see a write hidden behind an alias or a different case; this guards the pattern. */
    @Test
    void theJobStateWriteScanRecognisesTheWaysSqlWritesATable() {
        assertThat(List.of(
                        "update job set x = 1",
                        "UPDATE job j SET",
                        "insert into job_state_history (a)",
                        "delete from\n  job_image i",
                        "merge into job using",
                        "truncate table job"))
                .allSatisfy(sql ->
                        assertThat(JOB_STATE_WRITE.matcher(sql).find()).as(sql).isTrue());
        assertThat(List.of(
                        "update job_ticket_seq",
                        "insert into outbox (kind, job_id)",
                        "select * from job",
                        "update fair_clock f set",
                        "delete from idempotency_key"))
                .allSatisfy(sql ->
                        assertThat(JOB_STATE_WRITE.matcher(sql).find()).as(sql).isFalse());
    }

    /**
     * Packages without a table of their own use no JDBC: they move jobs through the job package's API
     * ({@code EventMoves}, {@code StuckJobMoves}, {@code JobErasure}, {@code KeyJobs}).
     */
    @Test
    void packagesWithoutATableUseNoJdbc() {
        noClasses()
                .that()
                .resideInAnyPackage(
                        "io.forgequeue.gateway.event..",
                        "io.forgequeue.gateway.sweep..",
                        "io.forgequeue.gateway.retention..",
                        "io.forgequeue.gateway.relay..",
                        "io.forgequeue.gateway.admin..",
                        "io.forgequeue.gateway.fleet..",
                        "io.forgequeue.gateway.quota..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage("org.springframework.jdbc..", "java.sql..", "javax.sql..")
                .check(classes);
    }

    /**
     * The statements that move jobs are package-private in the job package, built from the package-private
     * transition table; its public classes that run SQL are the owner's API, each move an intent method.
     */
    @Test
    void theJobPackagesStatementsArePrivateToItAndItsPublicWritersAreTheOwnersApi() {
        classes()
                .that()
                .haveSimpleNameEndingWith("Transitions")
                .or()
                .haveSimpleNameEndingWith("Statement")
                .should()
                .notBePublic()
                .andShould()
                .resideInAPackage("io.forgequeue.gateway.job")
                .check(classes);
        classes()
                .that()
                .resideInAPackage("io.forgequeue.gateway.job")
                .and()
                .arePublic()
                .and(DescribedPredicate.describe(
                        "run SQL",
                        (JavaClass c) -> c.getDirectDependenciesFromSelf().stream()
                                .anyMatch(d -> d.getTargetClass()
                                        .getName()
                                        .equals("org.springframework.jdbc.core.simple.JdbcClient"))))
                .should()
                .haveSimpleNameEndingWith("Moves")
                .orShould()
                .haveSimpleName("JobErasure")
                .check(classes);
    }

    @Test
    void onlyTheJobFeatureAndItsReadersUseTheJobRow() {
        noClasses()
                .that()
                .resideInAnyPackage(
                        "io.forgequeue.gateway.apikey..",
                        "io.forgequeue.gateway.queue..",
                        "io.forgequeue.gateway.quota..",
                        "io.forgequeue.gateway.fleet..")
                .should()
                .dependOnClassesThat()
                .resideInAPackage("io.forgequeue.gateway.job..")
                .check(classes);
    }

    /**
     * Threads have owners (issue 20, docs/architecture.md "Threads"): pools come from {@code system.ThreadPools} and
     * loops are {@code system.BackgroundLoop}s, both started and stopped through Spring's lifecycle.
     */
    @Test
    void onlyTheSystemPackageMakesThreadsAndExecutors() {
        noClasses()
                .that()
                .resideOutsideOfPackage("io.forgequeue.gateway.system..")
                .should()
                .callConstructorWhere(com.tngtech.archunit.core.domain.JavaCall.Predicates.target(
                        com.tngtech.archunit.core.domain.properties.HasOwner.Predicates.With.owner(
                                com.tngtech.archunit.core.domain.JavaClass.Predicates.assignableTo(Thread.class)
                                        .or(com.tngtech.archunit.core.domain.JavaClass.Predicates.assignableTo(
                                                java.util.concurrent.ExecutorService.class)))))
                .orShould()
                .accessClassesThat()
                .belongToAnyOf(java.util.concurrent.Executors.class)
                .check(classes);
    }

    /** docs/decisions/0001: job state moves stay guarded SQL statements; JPA is for the CRUD-shaped tables. */
    @Test
    void jobStateIsNeverMovedThroughJpa() {
        noClasses()
                .that()
                .resideInAnyPackage(
                        "io.forgequeue.gateway.job..",
                        "io.forgequeue.gateway.event..",
                        "io.forgequeue.gateway.schedule..",
                        "io.forgequeue.gateway.sweep..",
                        "io.forgequeue.gateway.outbox..",
                        "io.forgequeue.gateway.queue..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage(
                        "jakarta.persistence..",
                        "org.springframework.data.jpa..",
                        "org.springframework.data.repository..",
                        "org.hibernate..")
                .check(classes);
    }

    /** Entities stay inside their feature package; its public methods return records. */
    @Test
    void entitiesAndRepositoriesAreNotPublic() {
        classes()
                .that()
                .areAnnotatedWith(jakarta.persistence.Entity.class)
                .should()
                .notBePublic()
                .andShould()
                .haveSimpleNameEndingWith("Entity")
                .check(classes);
        classes()
                .that()
                .areAssignableTo(org.springframework.data.repository.Repository.class)
                .should()
                .notBePublic()
                .andShould()
                .haveSimpleNameEndingWith("Repository")
                .check(classes);
    }

    @Test
    void thereAreNoLayerPackages() {
        noClasses()
                .should()
                .resideInAnyPackage("..controller..", "..service..", "..repository..", "..util..")
                .check(classes);
    }
}
