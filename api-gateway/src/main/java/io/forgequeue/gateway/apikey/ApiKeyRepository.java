package io.forgequeue.gateway.apikey;

import org.springframework.data.jpa.repository.JpaRepository;

import java.util.UUID;

/** The API keys as entities, for the admin API (Spring Data JPA). Authentication does not use it: see {@link ApiKeys}. */
interface ApiKeyRepository extends JpaRepository<ApiKeyEntity, UUID> {
}
