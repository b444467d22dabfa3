package io.forgequeue.gateway.job;

import io.forgequeue.gateway.system.DbTime;
import io.forgequeue.gateway.system.WireJson;
import io.forgequeue.model.JobSpec;
import io.forgequeue.model.JobStatus;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.stream.Collectors;
import org.springframework.jdbc.core.RowMapper;
import org.springframework.stereotype.Component;

/** The column list and row mapper of {@link JobRow}, shared by every statement that reads or returns jobs. */
@Component
public class JobRows implements RowMapper<JobRow> {

    private static final List<String> COLUMNS = List.of(
            "id",
            "owner_key_id",
            "pool",
            "ticket",
            "spec::text as spec",
            "status",
            "progress",
            "attempt",
            "last_seq",
            "worker_id",
            "error_code",
            "error_message",
            "metadata::text as metadata",
            "images::text as images",
            "cancel_requested_at",
            "created_at",
            "started_at",
            "finished_at",
            "last_event_at",
            "version",
            "priority",
            "requested_priority",
            "fair_tag",
            "cost",
            "assigned_worker",
            "assigned_at",
            "queued_at",
            "hidden_at",
            "data_erased_at",
            "data_erased_by");

    private final WireJson json;

    JobRows(WireJson json) {
        this.json = json;
    }

    /** The select list for the job table aliased {@code alias}, e.g. {@code j.id, j.owner_key_id, ...}. */
    public static String columns(String alias) {
        return COLUMNS.stream().map(c -> alias + "." + c).collect(Collectors.joining(", "));
    }

    @Override
    public JobRow mapRow(ResultSet rs, int rowNum) throws SQLException {
        return new JobRow(
                rs.getObject("id", UUID.class),
                rs.getObject("owner_key_id", UUID.class),
                rs.getString("pool"),
                rs.getLong("ticket"),
                json.read(rs.getString("spec"), JobSpec.class),
                JobStatus.valueOf(rs.getString("status")),
                rs.getInt("progress"),
                rs.getInt("attempt"),
                rs.getLong("last_seq"),
                rs.getString("worker_id"),
                rs.getString("error_code"),
                rs.getString("error_message"),
                json.readMap(rs.getString("metadata")),
                Arrays.asList(json.read(rs.getString("images"), ImageInfo[].class)),
                DbTime.get(rs, "cancel_requested_at"),
                DbTime.get(rs, "created_at"),
                DbTime.get(rs, "started_at"),
                DbTime.get(rs, "finished_at"),
                DbTime.get(rs, "last_event_at"),
                rs.getLong("version"),
                rs.getInt("priority"),
                rs.getInt("requested_priority"),
                rs.getDouble("fair_tag"),
                rs.getDouble("cost"),
                rs.getString("assigned_worker"),
                DbTime.get(rs, "assigned_at"),
                DbTime.get(rs, "queued_at"),
                DbTime.get(rs, "hidden_at"),
                DbTime.get(rs, "data_erased_at"),
                rs.getString("data_erased_by"));
    }
}
