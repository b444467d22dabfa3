package io.forgequeue.gateway;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
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
