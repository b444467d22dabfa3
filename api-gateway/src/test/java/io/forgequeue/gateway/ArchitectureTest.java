package io.forgequeue.gateway;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
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
                        "io.forgequeue.gateway.sweep..", "io.forgequeue.gateway.apikey..")
                .check(classes);
    }

    @Test
    void onlyTheJobFeatureAndItsReadersUseTheJobRow() {
        noClasses().that().resideInAnyPackage("io.forgequeue.gateway.apikey..", "io.forgequeue.gateway.queue..")
                .should().dependOnClassesThat().resideInAPackage("io.forgequeue.gateway.job..")
                .check(classes);
    }

    @Test
    void thereAreNoLayerPackages() {
        noClasses().should().resideInAnyPackage("..controller..", "..service..", "..repository..", "..util..")
                .check(classes);
    }
}
