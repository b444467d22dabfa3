package io.forgequeue.worker.forge;

import java.util.HashSet;
import java.util.Set;
import java.util.function.Supplier;

/**
 * What the worker saw of Forge while one of its own txt2img requests was outstanding, and what follows from it. A
 * Forge may be shared (a person in its web UI, another API client): GET /sdapi/v1/progress, its live preview and
 * POST /interrupt are about whatever job Forge runs, with no task id (forge-api.md §2, §5, §6). So nothing from them
 * is taken as this request's unless this class says so.
 *
 * <p><b>Attribution</b> (is the job Forge runs now this request's?):
 * <ul>
 *   <li>WebUI mode: Forge answers POST /internal/progress for the request's {@code force_task_id}; {@code active}
 *       means it holds the lock. Exact; {@link #observeTask} records it.</li>
 *   <li>API-only mode ({@code --nowebui}: no /internal routes) is a judgement from the global state
 *       ({@link #attribute}): the job counts as this request's only if Forge was idle just before the request was
 *       sent (the worker waits for that), the state fits the request (an API txt2img of one batch: job
 *       "scripts_txt2img", job_count 1 or -1, and once sampling, the request's steps), and it is the first and only
 *       job seen since. A second job (another {@code job_timestamp}, the batch or step count going back, Forge idle
 *       in between, or a job that does not fit) ends attribution for the rest of the request: from then on nothing is
 *       reported, rather than another client's progress.</li>
 * </ul>
 *
 * <p><b>Interruption</b> ({@link #conclude}): Forge answers an interrupted txt2img with HTTP 200 and unfinished
 * images (§6), nothing in the answer says so. Its {@code info.job_timestamp} names the job, though, and the flags
 * {@code interrupted}/{@code skipped} belong to the job whose {@code job_timestamp} the same progress answer shows:
 * they are reset only when the next job begins. So every progress answer seen during the request is kept as
 * (timestamp → stopped?), and after the answer, a stopped flag for this job's timestamp (or no image at all, which is
 * what an interrupt before the first step returns) means someone interrupted it, unless this worker did.
 *
 * <p>Thread-safe: the listener thread sends and concludes, the progress poller and the cancel listener observe.
 */
final class CallWatch {

    /** {@code state.job} of an API txt2img of one batch (forge-api.md §5). */
    static final String API_JOB = "scripts_txt2img";

    /** Whether Forge's per-task progress (WebUI mode) answered for this request. */
    enum TaskApi {
        UNKNOWN,
        AVAILABLE,
        MISSING
    }

    /** What the answer of the request was, as far as interrupts go. */
    enum Interruption {
        /** Nothing says the job was stopped. */
        NONE,
        /** This worker interrupted it (a cancel or a give-back). */
        OWN,
        /** Someone else interrupted or skipped it: its images are unfinished. */
        ELSEWHERE
    }

    private final String taskId;
    private final int steps;

    private TaskApi taskApi = TaskApi.UNKNOWN;
    private String attributedTimestamp;
    private int lastJobNo = -1;
    private int lastStep = -1;
    private boolean idleAfterAttributed;
    private boolean ambiguous;
    private boolean otherJobSeen;
    private boolean interruptWithheld;
    private boolean stoppedWhileAttributed;
    private boolean ownInterrupt;
    private int lastPreviewId = -1;
    private final Set<String> busyTimestamps = new HashSet<>();
    private final Set<String> stoppedTimestamps = new HashSet<>();

    /**
     * @param taskId the request's {@code force_task_id}
     * @param steps  the request's sampling steps
     */
    CallWatch(String taskId, int steps) {
        this.taskId = taskId;
        this.steps = steps;
    }

    String taskId() {
        return taskId;
    }

    int steps() {
        return steps;
    }

    synchronized TaskApi taskApi() {
        return taskApi;
    }

    synchronized void taskApi(TaskApi value) {
        taskApi = value;
    }

    synchronized int lastPreviewId() {
        return lastPreviewId;
    }

    synchronized void lastPreviewId(int id) {
        lastPreviewId = id;
    }

    /** The {@code job_timestamp} of the job attributed to this request, or null. */
    synchronized String attributedTimestamp() {
        return attributedTimestamp;
    }

    /** This worker is about to interrupt Forge for this request: the flags that follow are its own doing. */
    synchronized void markOwnInterrupt() {
        ownInterrupt = true;
    }

    synchronized boolean ownInterrupt() {
        return ownInterrupt;
    }

    /**
     * Another client's job was seen during this request.
     *
     * @return true the first time (to log and count it once per request)
     */
    synchronized boolean markOtherJobSeen() {
        if (otherJobSeen) {
            return false;
        }
        otherJobSeen = true;
        return true;
    }

    /**
     * An interrupt for this request was not sent because Forge ran another client's job.
     *
     * @return true the first time (to log and count it once per request)
     */
    synchronized boolean markInterruptWithheld() {
        if (interruptWithheld) {
            return false;
        }
        interruptWithheld = true;
        return true;
    }

    /**
     * Whether a state could be this request's job at all: an API txt2img of one batch with this request's steps.
     * Fields that are missing, and the step count before sampling starts (it is the last job's until then), say
     * nothing either way.
     */
    boolean fits(ProgressSnapshot s) {
        if (s.busy() && s.job() != null && !s.job().isEmpty() && !API_JOB.equals(s.job())) {
            return false;
        }
        if (s.jobCount() != 0 && s.jobCount() != 1 && s.jobCount() != -1) {
            return false;
        }
        return !(s.busy() && s.samplingStep() > 0 && s.samplingSteps() > 0 && s.samplingSteps() != steps);
    }

    /**
     * Keeps a progress answer's flags for {@link #conclude}: (job_timestamp → stopped?). An idle answer counts only
     * for a job seen running during this request: before that, the flags it shows are an earlier job's.
     */
    synchronized void record(ProgressSnapshot s) {
        String ts = s.jobTimestamp();
        if (ts == null || !fits(s)) {
            return;
        }
        if (s.busy()) {
            busyTimestamps.add(ts);
            if (s.stopped()) {
                stoppedTimestamps.add(ts);
            }
        } else if (s.stopped() && busyTimestamps.contains(ts)) {
            stoppedTimestamps.add(ts);
        }
    }

    /**
     * WebUI mode: Forge said this request's task holds the lock, and {@code s} (read right after) is the state of
     * that job. Recorded as attributed.
     */
    synchronized void observeTask(ProgressSnapshot s) {
        record(s);
        if (s.busy() && fits(s)) {
            if (attributedTimestamp == null) {
                attributedTimestamp = s.jobTimestamp();
            }
            stoppedWhileAttributed |= s.stopped();
        }
    }

    /**
     * API-only mode: whether the job in {@code s} is this request's (see the class comment). Also records the
     * answer. Called only while the request is outstanding, after Forge was seen idle just before it was sent.
     */
    synchronized boolean attribute(ProgressSnapshot s) {
        record(s);
        if (!s.busy()) {
            if (attributedTimestamp != null) {
                idleAfterAttributed = true;
            }
            return false;
        }
        if (!fits(s)) {
            ambiguous = true;
            return false;
        }
        if (ambiguous) {
            return false;
        }
        if (idleAfterAttributed) {
            ambiguous = true; // a second job began while our request was still outstanding
            return false;
        }
        String ts = s.jobTimestamp();
        if (attributedTimestamp == null) {
            attributedTimestamp = ts == null ? "" : ts;
        } else if (!attributedTimestamp.equals(ts == null ? "" : ts) || wentBack(s)) {
            ambiguous = true;
            return false;
        }
        lastJobNo = s.jobNo();
        lastStep = s.samplingStep();
        stoppedWhileAttributed |= s.stopped();
        return true;
    }

    /**
     * For an abandoned request: whether the job in {@code s} can still be the one attributed to this request while it
     * was outstanding: the same {@code job_timestamp}, a state that fits, and not behind the last state seen of it
     * (a job that began later in the same second starts again from step 0). API-only mode; a request never seen
     * running is never recognised.
     */
    synchronized boolean stillRuns(ProgressSnapshot s) {
        return s.busy()
                && attributedTimestamp != null
                && !attributedTimestamp.isEmpty()
                && attributedTimestamp.equals(s.jobTimestamp())
                && fits(s)
                && !wentBack(s);
    }

    /**
     * A job only moves forward: (job_no, sampling_step) never decreases. The step returns to 0 at the end of a batch,
     * but job_no rises with it.
     */
    private boolean wentBack(ProgressSnapshot s) {
        return s.jobNo() < lastJobNo || s.jobNo() == lastJobNo && s.samplingStep() < lastStep;
    }

    /**
     * After the answer: was this request's job interrupted, and by whom?
     *
     * @param answerTimestamp {@code info.job_timestamp} of the answer, or null
     * @param noImages        Forge answered with no image at all: an interrupt before the first step (§6)
     * @param afterwards      reads Forge's state once more (may return null); called only when nothing seen so far
     *                        decides. An idle state with the answer's timestamp still carries that job's flags.
     */
    Interruption conclude(String answerTimestamp, boolean noImages, Supplier<ProgressSnapshot> afterwards) {
        synchronized (this) {
            if (ownInterrupt) {
                return Interruption.OWN;
            }
            if (noImages) {
                return Interruption.ELSEWHERE;
            }
            if (answerTimestamp == null) {
                return stoppedWhileAttributed ? Interruption.ELSEWHERE : Interruption.NONE;
            }
            if (stoppedTimestamps.contains(answerTimestamp)) {
                return Interruption.ELSEWHERE;
            }
        }
        ProgressSnapshot after = afterwards.get();
        if (after != null
                && !after.busy()
                && answerTimestamp.equals(after.jobTimestamp())
                && after.stopped()
                && fits(after)) {
            return Interruption.ELSEWHERE;
        }
        return Interruption.NONE;
    }
}
