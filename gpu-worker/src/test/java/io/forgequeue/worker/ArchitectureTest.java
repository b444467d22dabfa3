package io.forgequeue.worker;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/** Module and package boundaries of the worker (model: JobRunr's PackageDependenciesTest). */
class ArchitectureTest {

    private final JavaClasses classes = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("io.forgequeue.worker");

    /** Threads have owners (issue 20): pools come from {@code system.ThreadPools}, loops are {@code BackgroundLoop}s. */
    @Test
    void onlyTheSystemPackageMakesThreadsAndExecutors() {
        noClasses()
                .that()
                .resideOutsideOfPackage("io.forgequeue.worker.system..")
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

    @Test
    void neverReferencesTheGateway() {
        noClasses()
                .should()
                .dependOnClassesThat()
                .resideInAPackage("io.forgequeue.gateway..")
                .check(classes);
    }

    @Test
    void featurePackagesHaveNoCycles() {
        slices().matching("io.forgequeue.worker.(*)..")
                .should()
                .beFreeOfCycles()
                .check(classes);
    }

    @Test
    void theForgeClientKnowsNothingOfJobsCancelsOrTheBroker() {
        noClasses()
                .that()
                .resideInAPackage("io.forgequeue.worker.forge..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage(
                        "io.forgequeue.worker.job..",
                        "io.forgequeue.worker.cancel..",
                        "org.springframework.amqp..",
                        "com.rabbitmq..")
                .check(classes);
    }

    @Test
    void systemWiringDependsOnNoFeature() {
        noClasses()
                .that()
                .resideInAPackage("io.forgequeue.worker.system..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage(
                        "io.forgequeue.worker.job..", "io.forgequeue.worker.cancel..", "io.forgequeue.worker.forge..")
                .check(classes);
    }

    @Test
    void cancelMemoryDoesNotKnowHowJobsRun() {
        noClasses()
                .that()
                .resideInAPackage("io.forgequeue.worker.cancel..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage("io.forgequeue.worker.job..", "io.forgequeue.worker.forge..")
                .check(classes);
    }
}
