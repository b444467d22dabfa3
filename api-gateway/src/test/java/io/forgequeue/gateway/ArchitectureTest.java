package io.forgequeue.gateway;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.assertj.core.api.Assertions.assertThat;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

/** Module and package boundaries of the gateway (model: JobRunr's PackageDependenciesTest). */
class ArchitectureTest {

    private final JavaClasses classes = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("io.forgequeue.gateway");

    @Test
    void gatewayNeverReferencesTheWorker() {
        noClasses().should().dependOnClassesThat().resideInAPackage("io.forgequeue.worker..")
                .check(classes);
    }

    @Test
    void featurePackagesHaveNoCycles() {
        slices().matching("io.forgequeue.gateway.(*)..").should().beFreeOfCycles().check(classes);
    }

    @Test
    void systemWiringDependsOnNoFeature() {
        noClasses().that().resideInAPackage("io.forgequeue.gateway.system..")
                .should().dependOnClassesThat().resideInAnyPackage("io.forgequeue.gateway.job..",
                        "io.forgequeue.gateway.event..", "io.forgequeue.gateway.relay..",
                        "io.forgequeue.gateway.outbox..", "io.forgequeue.gateway.queue..",
                        "io.forgequeue.gateway.sweep..", "io.forgequeue.gateway.apikey..",
                        "io.forgequeue.gateway.quota..", "io.forgequeue.gateway.fleet..",
                        "io.forgequeue.gateway.schedule..")
                .check(classes);
    }

    @Test
    void quotasAndTheFleetDependOnNoOtherFeature() {
        noClasses().that().resideInAnyPackage("io.forgequeue.gateway.quota..", "io.forgequeue.gateway.fleet..")
                .should().dependOnClassesThat().resideInAnyPackage("io.forgequeue.gateway.job..",
                        "io.forgequeue.gateway.event..", "io.forgequeue.gateway.relay..",
                        "io.forgequeue.gateway.outbox..", "io.forgequeue.gateway.queue..",
                        "io.forgequeue.gateway.sweep..", "io.forgequeue.gateway.apikey..",
                        "io.forgequeue.gateway.schedule..", "io.forgequeue.gateway.system..")
                .check(classes);
    }

    @Test
    void nothingButTheSchedulerDependsOnTheScheduler() {
        noClasses().that().resideOutsideOfPackage("io.forgequeue.gateway.schedule..")
                .should().dependOnClassesThat().resideInAPackage("io.forgequeue.gateway.schedule..")
                .check(classes);
    }

    @Test
    void onlyTheSchedulerMakesTheSchedulersMovesOfJobState() {
        noClasses().that().resideOutsideOfPackages("io.forgequeue.gateway.job..", "io.forgequeue.gateway.schedule..")
                .should().accessClassesThat().haveFullyQualifiedName("io.forgequeue.gateway.job.JobMoves")
                .check(classes);
    }

    /**
     * The job table is written by the job feature (submit, cancel, the scheduler's moves), the merge of worker events
     * and the stuck-job sweep, each with guarded statements built from the transition table; nothing else may write
     * job rows (the queue index, the scheduler and the relay read them or go through {@code JobMoves}).
     */
    @Test
    void onlyTheJobFeatureTheMergeAndTheStuckSweepWriteTheJobTable() throws IOException {
        Path sources = Path.of("src/main/java/io/forgequeue/gateway");
        Pattern write = Pattern.compile("(?i)\\b(update|insert\\s+into|delete\\s+from)\\s+job\\b");
        Set<String> writers = new TreeSet<>();
        try (Stream<Path> files = Files.walk(sources)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".java")).toList()) {
                if (write.matcher(Files.readString(file)).find()) {
                    writers.add(sources.relativize(file).getName(0).toString());
                }
            }
        }

        assertThat(writers).as("packages with SQL that writes the job table").isNotEmpty()
                .isSubsetOf("job", "event", "sweep");
    }

    @Test
    void onlyTheJobFeatureAndItsReadersUseTheJobRow() {
        noClasses().that().resideInAnyPackage("io.forgequeue.gateway.apikey..", "io.forgequeue.gateway.queue..",
                        "io.forgequeue.gateway.quota..", "io.forgequeue.gateway.fleet..")
                .should().dependOnClassesThat().resideInAPackage("io.forgequeue.gateway.job..")
                .check(classes);
    }

    /**
     * Threads have owners (issue 20, docs/architecture.md "Threads"): pools come from {@code system.ThreadPools} and
     * loops are {@code system.BackgroundLoop}s, both started and stopped through Spring's lifecycle. The scheduler's
     * {@code Dispatcher} still starts its own thread (to adopt BackgroundLoop).
     */
    @Test
    void onlyTheSystemPackageMakesThreadsAndExecutors() {
        noClasses().that().resideOutsideOfPackage("io.forgequeue.gateway.system..")
                .and().doNotHaveFullyQualifiedName("io.forgequeue.gateway.schedule.Dispatcher")
                .should().callConstructorWhere(com.tngtech.archunit.core.domain.JavaCall.Predicates.target(
                        com.tngtech.archunit.core.domain.properties.HasOwner.Predicates.With.owner(
                                com.tngtech.archunit.core.domain.JavaClass.Predicates.assignableTo(Thread.class)
                                        .or(com.tngtech.archunit.core.domain.JavaClass.Predicates.assignableTo(
                                                java.util.concurrent.ExecutorService.class)))))
                .orShould().accessClassesThat().belongToAnyOf(java.util.concurrent.Executors.class)
                .check(classes);
    }

    /** docs/decisions/0001: job state moves stay guarded SQL statements; JPA is for the CRUD-shaped tables. */
    @Test
    void jobStateIsNeverMovedThroughJpa() {
        noClasses().that().resideInAnyPackage("io.forgequeue.gateway.job..", "io.forgequeue.gateway.event..",
                        "io.forgequeue.gateway.schedule..", "io.forgequeue.gateway.sweep..",
                        "io.forgequeue.gateway.outbox..", "io.forgequeue.gateway.queue..")
                .should().dependOnClassesThat().resideInAnyPackage("jakarta.persistence..",
                        "org.springframework.data.jpa..", "org.springframework.data.repository..", "org.hibernate..")
                .check(classes);
    }

    /** Entities stay inside their feature package; its public methods return records. */
    @Test
    void entitiesAndRepositoriesAreNotPublic() {
        classes().that().areAnnotatedWith(jakarta.persistence.Entity.class)
                .should().notBePublic().andShould().haveSimpleNameEndingWith("Entity")
                .check(classes);
        classes().that().areAssignableTo(org.springframework.data.repository.Repository.class)
                .should().notBePublic().andShould().haveSimpleNameEndingWith("Repository")
                .check(classes);
    }

    @Test
    void thereAreNoLayerPackages() {
        noClasses().should().resideInAnyPackage("..controller..", "..service..", "..repository..", "..util..")
                .check(classes);
    }
}
