package io.forgequeue.gateway.apikey;

import java.util.UUID;
import org.springframework.data.jpa.repository.JpaRepository;

/** The API keys as entities, for the admin API (Spring Data JPA). Authentication does not use it: see {@link ApiKeys}. */
interface ApiKeyRepository extends JpaRepository<ApiKeyEntity, UUID> {}
