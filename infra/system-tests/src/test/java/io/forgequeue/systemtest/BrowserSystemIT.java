package io.forgequeue.systemtest;

import static io.forgequeue.systemtest.ForgeQueueSystem.ALICE_KEY;
import static io.forgequeue.systemtest.ForgeQueueSystem.BOB_KEY;
import static io.forgequeue.systemtest.ForgeQueueSystem.job;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

import io.forgequeue.forgesim.ForgeSimAdmin;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.Keys;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.WindowType;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;
import tools.jackson.databind.JsonNode;

/**
 * The web page in headless Chromium (Debian's chromium and chromium-driver) against the real system, checked from
 * what a person sees: rendered texts and sizes, what the live region announces, where the focus is, and an
 * automated accessibility check (axe-core, from its webjar, run inside the page) with no serious or critical
 * violation in the main states. Screenshots of every state go to {@code infra/system-tests/target/screenshots/}.
 *
 * <p>What the cards, the header and the live region show is recorded inside the page (mutation observers keep every
 * distinct state, as the browser would paint it), so no state is missed between two polls. Every waiting state is
 * made by forge-sim's hold faults ({@link ForgeSimAdmin#holdAtStep(int)}), its outage ({@link ForgeSimAdmin#goDown()})
 * or its failures, never by a job being slow enough (issues 15, 18).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class BrowserSystemIT {

    private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final String AXE =
            "/META-INF/resources/webjars/axe-core/" + System.getProperty("axe-core.version", "4.6.3") + "/axe.min.js";

    /**
     * Keeps every distinct state of every job card in {@code window.cardStates}, every text the live region said in
     * {@code window.announcements} and every header text in {@code window.headerTexts} (with the time it appeared).
     */
    private static final String RECORD_PAGE = """
            window.cardStates = [];
            window.announcements = [];
            window.headerTexts = [];
            const last = new Map();
            const record = () => {
              for (const card of document.querySelectorAll('#jobs .card')) {
                const live = card.querySelector('.media img.live');
                const why = card.querySelector('.why');
                const state = {
                  jobId: card.dataset.jobId,
                  prompt: card.querySelector('.prompt').textContent,
                  badge: card.querySelector('.badge').innerText,
                  line: card.querySelector('.where').innerText,
                  why: why.hidden ? '' : why.innerText,
                  preview: !!(live && live.getAttribute('src')),
                };
                const key = JSON.stringify(state);
                if (last.get(state.jobId) !== key) {
                  last.set(state.jobId, key);
                  state.at = Date.now();
                  window.cardStates.push(state);
                }
              }
              const said = document.getElementById('announcer').textContent;
              if (said && window.announcements[window.announcements.length - 1] !== said) window.announcements.push(said);
              const header = document.getElementById('queue-stats').innerText;
              const lastHeader = window.headerTexts[window.headerTexts.length - 1];
              if (!lastHeader || lastHeader.text !== header) window.headerTexts.push({ text: header, at: Date.now() });
            };
            record();
            if (window.pageObserver) window.pageObserver.disconnect();
            window.pageObserver = new MutationObserver(record);
            window.pageObserver.observe(document.body,
                { subtree: true, childList: true, characterData: true, attributes: true });
            """;

    private static final Pattern QUEUED_LINE =
            Pattern.compile("(Returned to the queue, will run again · p|P)osition \\d+ in the queue( · about .+)?"
                    + "|(Returned to the queue, will run again · w|W)aiting in the queue( · about .+)?");
    // the running line names no worker (issue 15, item 11: no worker internals in user views)
    private static final Pattern RUNNING_LINE = Pattern.compile("Generating…( no progress for \\d+ s)?|Cancelling…");
    private static final Pattern SUCCEEDED_LINE = Pattern.compile("Done( in [\\d.]+ s| in \\d+ min \\d+ s)?");
    private static final Pattern FAILED_LINE = Pattern.compile("Failed( at .+)?");
    private static final Pattern CANCELLED_LINE =
            Pattern.compile("Cancelled( at .+)?, (before it started|after \\d+% of the work)");
    private static final Pattern POSITION = Pattern.compile("osition (\\d+) in the queue");

    private ForgeQueueSystem system;
    private ForgeSimAdmin forge;
    private WebDriver browser;
    private Path profile;
    private Path downloads;

    /** One state of a job card as the page showed it: the badge, the lines under it, whether a live preview showed. */
    record CardState(String jobId, String prompt, String badge, String line, String why, boolean preview, long at) {

        String status() {
            return switch (badge.split(" ")[0]) {
                case "Queued" -> "QUEUED";
                case "Running" -> "RUNNING";
                case "Done" -> "SUCCEEDED";
                case "Failed" -> "FAILED";
                case "Cancelled" -> "CANCELLED";
                default -> badge;
            };
        }

        /** Whether the line under the badge tells the same as the badge. */
        boolean lineMatchesBadge() {
            return switch (status()) {
                case "QUEUED" ->
                    badge.equals("Queued") && QUEUED_LINE.matcher(line).matches();
                case "RUNNING" ->
                    badge.matches("Running \\d+%") && RUNNING_LINE.matcher(line).matches();
                case "SUCCEEDED" -> SUCCEEDED_LINE.matcher(line).matches();
                case "FAILED" -> FAILED_LINE.matcher(line).matches();
                case "CANCELLED" -> CANCELLED_LINE.matcher(line).matches();
                default -> false;
            };
        }

        int position() {
            Matcher m = POSITION.matcher(line);
            return m.find() ? Integer.parseInt(m.group(1)) : 0;
        }

        @Override
        public String toString() {
            return badge + " | " + line + (why.isEmpty() ? "" : " | " + why) + (preview ? " | live preview" : "");
        }
    }

    /** A result image as rendered: its PNG's size and the box it is drawn in, and the width of its card's content. */
    record RenderedImage(long naturalWidth, long naturalHeight, double width, double height, double mediaWidth) {

        double naturalRatio() {
            return (double) naturalWidth / naturalHeight;
        }

        double renderedRatio() {
            return width / height;
        }
    }

    @BeforeAll
    void start() throws IOException, InterruptedException {
        ensureChromium();
        system = ForgeQueueSystem.builder("browser")
                .gateways(1)
                .workers(1)
                .forgeArgs("--step-ms", "40", "--model-load-ms", "0", "--preview-every", "2")
                // both keys may ask for high priority, so the page offers it
                .gatewayEnv(Map.of("GATEWAY_QUOTAS_MAXPRIORITY", "high"))
                .workerEnv(Map.of(
                        "WORKER_PROGRESS_PREVIEWINTERVAL",
                        "200ms",
                        // a Forge outage pauses the worker soon and it resumes soon after Forge is back
                        "WORKER_FORGE_BREAKER_DELAY",
                        "3s",
                        "WORKER_FORGE_BREAKER_PROBEINTERVAL",
                        "500ms",
                        "WORKER_FORGE_RETRY_OUTAGEMAXDELAY",
                        "1s"))
                .start();
        forge = system.forge().admin();
        profile = Files.createTempDirectory("fq-chromium");
        downloads = Files.createTempDirectory("fq-downloads");
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments(
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--user-data-dir=" + profile,
                "--window-size=1280,900");
        options.setExperimentalOption(
                "prefs",
                Map.of(
                        "download.default_directory",
                        downloads.toString(),
                        "download.prompt_for_download",
                        false,
                        "profile.default_content_setting_values.automatic_downloads",
                        1));
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(CHROMEDRIVER.toFile())
                .usingAnyFreePort()
                .build();
        browser = new ChromeDriver(service, options);
    }

    /** Each test starts from an idle system, whatever the one before left behind. */
    @BeforeEach
    void idle() {
        forge.clearFaults();
        if (!forge.state().apiUp()) {
            forge.comeUp();
        }
        for (String key : List.of(ALICE_KEY, BOB_KEY)) {
            Http http = system.http(0, key);
            http.post("/api/v1/jobs/cancel-waiting", Map.of());
            awaitSim(
                    "nothing of the key runs",
                    () -> http.get("/api/v1/jobs?status=QUEUED,RUNNING")
                            .json()
                            .get("items")
                            .isEmpty());
        }
    }

    @AfterAll
    void stop() {
        if (browser != null) {
            browser.quit();
        }
        if (system != null) {
            system.close();
        }
    }

    @Test
    @Order(1)
    void signedOutTheKeyFieldIsLabelledAWrongKeyIsExplainedAndSigningInMovesTheFocusToThePrompt() {
        browser.get(system.gateway(0).baseUrl() + "/");
        WebDriverWait wait = new WebDriverWait(browser, WAIT);
        wait.until(d -> d.findElement(By.id("key-input")).isDisplayed());
        screenshot("0-signed-out");
        assertAccessible("signed out");
        assertThat(js("return document.querySelector('label[for=key-input]').innerText"))
                .isEqualTo("API key");

        browser.findElement(By.id("key-input")).sendKeys("fq_not_a_key_of_this_gateway");
        browser.findElement(By.cssSelector("#key-form button")).click();
        String refused = wait.until(d -> {
            String text = d.findElement(By.id("key-error")).getText();
            return text.isEmpty() ? null : text;
        });
        screenshot("0b-wrong-key");

        assertThat(refused)
                .as("the first wrong key is not a session that ended")
                .contains("not accepted")
                .doesNotContain("again");
        assertThat(activeElementId()).isEqualTo("key-input");

        browser.findElement(By.id("key-input")).clear();
        browser.findElement(By.id("key-input")).sendKeys(ALICE_KEY);
        browser.findElement(By.cssSelector("#key-form button")).click();
        wait.until(d -> d.findElement(By.id("prompt")).isDisplayed());
        wait.until(d -> d.findElement(By.id("conn-text")).getText().equals("live"));

        assertThat(activeElementId()).as("focus after sign-in").isEqualTo("prompt");
        assertThat(new Select(browser.findElement(By.id("priority"))).getOptions())
                .extracting(WebElement::getText)
                .as("the key may use high priority, so the form offers it")
                .containsExactly("High: before normal jobs", "Normal", "Low: after normal jobs");
    }

    @Test
    @Order(2)
    void aPromptBecomesAnImageWithQueuePositionAndProgressTheHeaderFollowsTheCardsAndItSurvivesAReload() {
        Http alice = system.http(0, ALICE_KEY);
        openSignedIn();
        WebDriverWait wait = new WebDriverWait(browser, WAIT);
        recordPage();

        // the job ahead holds the only worker (its Forge stops after step 2), so ours has to wait in line
        forge.holdAtStep(2);
        assertThat(alice.post("/api/v1/jobs", job("the job ahead", 4)).status()).isEqualTo(202);
        awaitSim("the job ahead is held on the GPU", () -> forge.state().heldNow() == 1);
        awaitHeader("the header counts the held job as running", h -> h.contains("1 running"));
        submitFromTheForm("a lighthouse at dusk, seen from the browser", "512x512", 40);
        CardState queued = awaitCard(
                "seen from the browser",
                s -> s.status().equals("QUEUED")
                        && s.line().startsWith("Position 1 in the queue")
                        && !s.why().isEmpty());
        String jobId = queued.jobId();
        screenshot("1-queued");
        assertThat(queued.why())
                .as("why it waits")
                .isIn("Next on a GPU: it starts when the job running there ends.", "No job is before yours.");

        // the job ahead finishes (4 steps) and ours runs until the page shows it running; then it moves on to a
        // later step, so its preview there is sent after the page knows the job runs, and stays there until seen
        forge.holdAtStep(20);
        awaitCard("seen from the browser", s -> s.status().equals("RUNNING"));
        forge.holdAtStep(30);
        awaitCard("seen from the browser", s -> s.status().equals("RUNNING") && s.preview());
        screenshot("1b-running-with-preview");
        assertThat(js("""
                const bar = document.querySelector(".card[data-job-id='" + arguments[0] + "'] [role=progressbar]");
                return [bar.getAttribute('aria-valuenow'), bar.getAttribute('aria-label')];""", jobId))
                .as("the progress bar says its value and whose it is")
                .satisfies(v -> assertThat(Integer.parseInt((String) ((List<?>) v).get(0)))
                        .isBetween(1, 99))
                .satisfies(v -> assertThat((String) ((List<?>) v).get(1)).contains("a lighthouse at dusk"));
        forge.clearFaults();

        long doneAt = awaitCard("seen from the browser", s -> s.status().equals("SUCCEEDED"))
                .at();
        RenderedImage square = awaitImage(jobId);
        screenshot("2-done", jobId);
        List<CardState> shown = statesOf("seen from the browser");
        assertThat(shown)
                .as("every state the card showed: %s", shown)
                .allMatch(CardState::lineMatchesBadge)
                .anyMatch(s -> s.status().equals("QUEUED") && s.line().startsWith("Position 1 in the queue"))
                .anyMatch(s -> s.status().equals("RUNNING") && s.preview());
        assertThat(statusesInOrder(shown))
                .as("states in order: %s", shown)
                .containsExactly("QUEUED", "RUNNING", "SUCCEEDED");
        assertKeepsItsShape(square, 512, 512);
        assertThat(awaitAnnouncement(a -> a.contains("\"a lighthouse at dusk, seen from the browser\" is done.")))
                .as("the end of the job is announced politely")
                .isNotNull();
        // pushed, not re-read every few seconds: the header stops counting the job as soon as the card says Done
        awaitHeader("nothing runs any more", h -> h.contains("0 running"));
        List<HeaderText> header = headerTexts();
        long lastBusy = header.stream()
                .filter(h -> h.text().matches(".*\\b[1-9]\\d* running.*") && h.at() <= doneAt)
                .mapToLong(HeaderText::at)
                .max()
                .orElseThrow();
        long headerAt = header.stream()
                .filter(h -> h.text().contains(" 0 running") || h.text().startsWith("0 running"))
                .filter(h -> h.at() > lastBusy)
                .mapToLong(HeaderText::at)
                .min()
                .orElseThrow();
        assertThat(headerAt - doneAt)
                .as("ms between the card's Done and the header's 0 running")
                .isLessThan(2000);
        assertThat(headerText()).as("an idle, healthy worker is counted").contains("1 GPU ready");

        browser.navigate().refresh();
        wait.until(d -> d.findElement(By.id("conn-text")).getText().equals("live"));
        RenderedImage reloaded = awaitImage(jobId);
        screenshot("3-reloaded", jobId);
        recordPage();
        CardState afterReload = awaitCard("seen from the browser", s -> true);
        assertThat(afterReload.badge()).isEqualTo("Done");
        assertThat(afterReload.line()).isEqualTo(shown.get(shown.size() - 1).line());
        assertKeepsItsShape(reloaded, 512, 512);
    }

    @Test
    @Order(3)
    void aWaitingJobSaysHowManyJobsOfOthersAreBeforeItAndThatAHigherPriorityJobMovedItBack() {
        Http bob = system.http(0, BOB_KEY);
        Http alice = system.http(0, ALICE_KEY);
        openSignedIn();
        recordPage();

        // Bob's first job holds the GPU, his second is handed to it next, his third waits
        forge.holdAtStep(2);
        bob.post("/api/v1/jobs", job("bob's first", 4));
        awaitSim("bob's first job is held on the GPU", () -> forge.state().heldNow() == 1);
        String second = bob.post("/api/v1/jobs", job("bob's second", 4))
                .json()
                .get("id")
                .asString();
        bob.post("/api/v1/jobs", job("bob's third", 4));
        awaitSim(
                "bob's second job is next on the GPU",
                () -> bob.get("/api/v1/jobs/" + second)
                        .json()
                        .path("waiting")
                        .path("next")
                        .asBoolean());

        submitFromTheForm("why do I wait", "512x512", 4);
        CardState waiting = awaitCard(
                "why do I wait", s -> s.status().equals("QUEUED") && s.why().contains("before"));
        JsonNode view = alice.get("/api/v1/jobs/" + waiting.jobId()).json().get("waiting");
        int others = view.get("ahead").asInt() - view.get("ownAhead").asInt();
        screenshot("6-queue-with-jobs", waiting.jobId());
        assertAccessible("queue with jobs");

        assertThat(others)
                .as("Bob's second job, handed to the GPU next, is before Alice's")
                .isGreaterThanOrEqualTo(1);
        assertThat(view.get("ownAhead").asInt()).isZero();
        assertThat(waiting.why())
                .isEqualTo(others + " job" + (others == 1 ? "" : "s") + " of other users before yours.");
        assertThat(waiting.line()).startsWith("Position " + (others + 1) + " in the queue");

        // Bob asks for high priority: his new job goes before Alice's, which the card says
        Map<String, Object> urgent = new HashMap<>(job("bob's urgent one", 4));
        urgent.put("priority", "high");
        assertThat(bob.post("/api/v1/jobs", urgent).status()).isEqualTo(202);
        CardState movedBack = awaitCard("why do I wait", s -> s.why().contains("Moved back"));
        screenshot("6b-moved-back", waiting.jobId());

        assertThat(movedBack.position()).isEqualTo(waiting.position() + 1);
        assertThat(movedBack.why())
                .isEqualTo((others + 1) + " jobs of other users before yours. Moved back: a "
                        + "higher-priority job or another user's fair turn came first.");

        // cancel every waiting job of Alice's at once
        WebElement cancelAll = browser.findElement(By.id("cancel-waiting"));
        assertThat(cancelAll.getText()).isEqualTo("Cancel all waiting (1)");
        cancelAll.click();
        browser.switchTo().alert().accept();
        CardState cancelled = awaitCard("why do I wait", s -> s.status().equals("CANCELLED"));
        WebElement card = cardOf(waiting.jobId());

        assertThat(cancelled.line()).matches("Cancelled at .+, before it started");
        assertThat(card.findElement(By.cssSelector(".rerun")).isDisplayed()).isTrue();
        assertThat(card.findElement(By.cssSelector(".rerun")).getAccessibleName())
                .isEqualTo("Run \"why do I wait\" again");
        assertThat(card.findElement(By.cssSelector(".cancel")).isDisplayed()).isFalse();
        assertThat(statesOf("why do I wait")).allMatch(CardState::lineMatchesBadge);

        forge.clearFaults();
        awaitSim(
                "Bob's jobs are done",
                () -> bob.get("/api/v1/jobs?status=QUEUED,RUNNING")
                        .json()
                        .get("items")
                        .isEmpty());
    }

    @Test
    @Order(4)
    void aStalledJobSaysSoAFailedJobExplainsItselfAndRunAgainLinksTheNewJob() {
        openSignedIn();
        recordPage();

        forge.holdAtStep(3);
        submitFromTheForm("a stalled generation", "512x512", 10);
        String stalledId = awaitCard("a stalled generation", s -> s.status().equals("RUNNING") && s.preview())
                .jobId();
        CardState stalled = awaitCard("a stalled generation", s -> s.line().startsWith("Generating… no progress for"));
        screenshot("7-running-stalled", stalledId);
        assertAccessible("running with preview");
        assertThat(stalled.preview()).isTrue();
        forge.clearFaults();
        awaitCard("a stalled generation", s -> s.status().equals("SUCCEEDED"));

        forge.failNextWithOutOfMemory(1);
        submitFromTheForm("a job that runs out of memory", "512x512", 4);
        CardState failed = awaitCard("runs out of memory", s -> s.status().equals("FAILED"));
        WebElement card = cardOf(failed.jobId());
        String message = system.http(0, ALICE_KEY)
                .get("/api/v1/jobs/" + failed.jobId())
                .json()
                .get("error")
                .get("message")
                .asString();
        screenshot("8-failed", failed.jobId());
        assertAccessible("failed");

        assertThat(card.findElement(By.cssSelector(".error-text")).getText()).isEqualTo(message);
        assertThat(awaitAnnouncement(a -> a.contains("\"a job that runs out of memory\" failed: " + message)))
                .isNotNull();

        card.findElement(By.cssSelector(".rerun")).click();
        CardState again = awaitCard(
                "runs out of memory",
                s -> !s.jobId().equals(failed.jobId()) && s.status().equals("SUCCEEDED"));
        WebElement link = new WebDriverWait(browser, WAIT).until(d -> {
            WebElement l = cardOf(failed.jobId()).findElement(By.cssSelector(".rerun-link"));
            return l.isDisplayed() ? l : null;
        });

        assertThat(cardOf(failed.jobId()).findElement(By.cssSelector(".rerun")).isDisplayed())
                .as("a job that ran again offers no second Run again")
                .isFalse();
        link.click();
        assertThat(js("return document.activeElement.dataset.jobId"))
                .as("the link goes to the new job")
                .isEqualTo(again.jobId());
        assertThat(statesOf("runs out of memory")).allMatch(CardState::lineMatchesBadge);
    }

    @Test
    @Order(5)
    void aBatchShowsEveryImageInItsShapeWithItsSeedInALightboxAndItsSettingsFillTheForm() throws IOException {
        openSignedIn();
        recordPage();

        submitFromTheForm("four lighthouses in a row", "512x768", 4, 4);
        String jobId = awaitCard("four lighthouses", s -> s.status().equals("SUCCEEDED"))
                .jobId();
        JsonNode job = system.http(0, ALICE_KEY).get("/api/v1/jobs/" + jobId).json();
        List<Long> seeds = new ArrayList<>();
        job.get("images").forEach(i -> seeds.add(i.get("seed").asLong()));
        List<RenderedImage> images = awaitImages(jobId, 4);
        screenshot("9-batch", jobId);

        assertThat(seeds).doesNotHaveDuplicates().hasSize(4);
        for (RenderedImage image : images) {
            assertThat(image.naturalWidth()).isEqualTo(512);
            assertThat(image.naturalHeight()).isEqualTo(768);
            assertThat(image.renderedRatio())
                    .as("drawn in the PNG's proportions: %s", image)
                    .isCloseTo(image.naturalRatio(), within(0.02 * image.naturalRatio()));
        }
        assertThat(cardOf(jobId).findElements(By.cssSelector("figcaption span")))
                .extracting(WebElement::getText)
                .containsExactlyElementsOf(seeds.stream().map(s -> "Seed " + s).toList());
        assertThat(cardOf(jobId).findElement(By.cssSelector(".settings")).getText())
                .startsWith("512×768 · 4 steps · CFG 7");
        assertThat(awaitAnnouncement(a -> a.contains("\"four lighthouses in a row\" is done (4 images).")))
                .isNotNull();

        // the lightbox: full size, next/previous with the keyboard, Escape closes it and gives the focus back
        cardOf(jobId).findElements(By.cssSelector(".media .open")).get(1).click();
        WebElement dialog = new WebDriverWait(browser, WAIT).until(d -> {
            WebElement l = d.findElement(By.id("lightbox"));
            return l.isDisplayed() ? l : null;
        });
        awaitLightbox("Image 2 of 4 · seed " + seeds.get(1));
        screenshot("10-lightbox");
        assertAccessible("lightbox");
        List<?> full = (List<?>) js("""
                const img = document.getElementById('lightbox-image');
                const box = img.getBoundingClientRect();
                return [img.naturalWidth, img.naturalHeight, box.width, box.height, box.bottom <= innerHeight];""");
        assertThat(((Number) full.get(0)).intValue()).isEqualTo(512);
        assertThat(((Number) full.get(1)).intValue()).isEqualTo(768);
        assertThat(((Number) full.get(2)).doubleValue() / ((Number) full.get(3)).doubleValue())
                .isCloseTo(512.0 / 768, within(0.02));
        assertThat(full.get(4)).as("the whole image fits the window").isEqualTo(true);

        assertThat(dialog.getAttribute("open")).isNotNull();
        browser.switchTo().activeElement().sendKeys(Keys.ARROW_RIGHT);
        awaitLightbox("Image 3 of 4 · seed " + seeds.get(2));
        browser.switchTo().activeElement().sendKeys(Keys.ARROW_LEFT, Keys.ARROW_LEFT, Keys.ARROW_LEFT);
        awaitLightbox("Image 4 of 4 · seed " + seeds.get(3));
        browser.findElement(By.id("lightbox-next")).click();
        awaitLightbox("Image 1 of 4 · seed " + seeds.get(0));
        assertThat(browser.findElement(By.id("lightbox-download")).getAttribute("download"))
                .endsWith("-" + seeds.get(0) + "-1.png");
        browser.switchTo().activeElement().sendKeys(Keys.ESCAPE);
        new WebDriverWait(browser, WAIT)
                .until(d -> !d.findElement(By.id("lightbox")).isDisplayed());
        assertThat(browser.switchTo().activeElement().getAccessibleName())
                .as("focus back on the image that opened it")
                .startsWith("Image 2 of 4 of \"four lighthouses in a row\"");

        // download all: four files
        cardOf(jobId).findElement(By.cssSelector(".download-all")).click();
        awaitSim("four images downloaded", () -> {
            try (Stream<Path> files = Files.list(downloads)) {
                return files.filter(f -> f.getFileName().toString().startsWith("four-lighthouses-in-a-row-")
                                        && f.getFileName().toString().endsWith(".png"))
                                .count()
                        == 4;
            }
        });

        // copy a seed, then "Use these settings": the form gets the job's settings and the seed it ran with
        cardOf(jobId).findElements(By.cssSelector(".copy-seed")).get(2).click();
        assertThat(awaitAnnouncement(a -> a.contains("Seed " + seeds.get(2) + " copied.")))
                .isNotNull();
        browser.findElement(By.id("prompt")).clear();
        cardOf(jobId).findElement(By.cssSelector(".reuse")).click();
        assertThat(awaitAnnouncement(a -> a.contains("The settings of \"four lighthouses in a row\" are in the form.")))
                .isNotNull();
        assertThat(activeElementId()).isEqualTo("prompt");
        assertThat(browser.findElement(By.id("prompt")).getAttribute("value")).isEqualTo("four lighthouses in a row");
        assertThat(new Select(browser.findElement(By.name("size")))
                        .getFirstSelectedOption()
                        .getAttribute("value"))
                .isEqualTo("512x768");
        assertThat(browser.findElement(By.name("steps")).getAttribute("value")).isEqualTo("4");
        assertThat(browser.findElement(By.name("batchSize")).getAttribute("value"))
                .isEqualTo("4");
        assertThat(browser.findElement(By.name("seed")).getAttribute("value"))
                .isEqualTo(seeds.get(0).toString());
    }

    @Test
    @Order(6)
    void submittingIsVisibleWhateverTheListShowsCtrlEnterTwiceMakesOneJobAndErrorsNameTheFields() {
        Http alice = system.http(0, ALICE_KEY);
        openSignedIn();
        recordPage();

        // the list shows finished jobs only; the new job must not be invisible, and one Ctrl+Enter too many is no job
        new Select(browser.findElement(By.id("filter"))).selectByVisibleText("Done");
        new WebDriverWait(browser, WAIT).until(d -> cardCount() > 0 && allCardsAre("SUCCEEDED"));
        WebElement prompt = browser.findElement(By.id("prompt"));
        prompt.clear();
        prompt.sendKeys("submitted twice with ctrl enter");
        js("""
                const prompt = document.getElementById('prompt');
                for (let i = 0; i < 2; i++) {
                  prompt.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', ctrlKey: true, bubbles: true }));
                }""");
        CardState shown = awaitCard("submitted twice", s -> s.status().equals("SUCCEEDED"));

        assertThat(alice.get("/api/v1/jobs?q=" + encode("submitted twice with ctrl enter"))
                        .json()
                        .get("items"))
                .as("one job")
                .hasSize(1);
        assertThat(new Select(browser.findElement(By.id("filter")))
                        .getFirstSelectedOption()
                        .getText())
                .isEqualTo("All");
        assertThat(browser.findElement(By.id("list-status-text")).getText()).contains("The list shows all jobs again");
        assertThat(shown.jobId()).isNotBlank();

        // "In progress" with nothing running says so, and a job that finishes leaves it
        new Select(browser.findElement(By.id("filter"))).selectByVisibleText("In progress");
        new WebDriverWait(browser, WAIT)
                .until(d -> d.findElement(By.id("empty")).isDisplayed());
        assertThat(browser.findElement(By.id("empty")).getText()).isEqualTo("Nothing is waiting or running right now.");
        forge.holdAtStep(2);
        submitFromTheForm("leaves the in-progress list", "512x512", 4);
        String leaving = awaitCard("leaves the in-progress", s -> s.status().equals("RUNNING"))
                .jobId();
        assertThat(new Select(browser.findElement(By.id("filter")))
                        .getFirstSelectedOption()
                        .getText())
                .isEqualTo("In progress");
        forge.clearFaults();
        new WebDriverWait(browser, WAIT)
                .until(d -> d.findElements(By.cssSelector(".card[data-job-id='" + leaving + "']"))
                        .isEmpty());
        assertThat(browser.findElement(By.id("empty")).getText()).isEqualTo("Nothing is waiting or running right now.");
        new Select(browser.findElement(By.id("filter"))).selectByVisibleText("All");
        new WebDriverWait(browser, WAIT).until(d -> cardCount() > 3);

        // a validation error names the field as the form labels it, marks it and moves the focus to it
        openMoreOptions();
        WebElement cfg = browser.findElement(By.name("cfgScale"));
        cfg.clear();
        cfg.sendKeys("99");
        prompt = browser.findElement(By.id("prompt"));
        prompt.clear();
        prompt.sendKeys("an invalid cfg scale");
        browser.findElement(By.id("submit")).click();
        String error = new WebDriverWait(browser, WAIT).until(d -> {
            String text = d.findElement(By.id("form-error")).getText();
            return text.isEmpty() ? null : text;
        });
        screenshot("11-validation-error");

        assertThat(error).contains("CFG scale:").doesNotContain("cfgScale");
        assertThat(cfg.getAttribute("aria-invalid")).isEqualTo("true");
        assertThat(activeElementName()).isEqualTo("cfgScale");
        cfg.clear();
        cfg.sendKeys("7");

        // remove a finished job from the history, undo it; search by prompt
        String batch = awaitCard("four lighthouses", s -> true).jobId();
        cardOf(batch).findElement(By.cssSelector(".hide")).click();
        new WebDriverWait(browser, WAIT)
                .until(d -> d.findElements(By.cssSelector(".card[data-job-id='" + batch + "']"))
                        .isEmpty());
        assertThat(alice.get("/api/v1/jobs?q=" + encode("four lighthouses"))
                        .json()
                        .get("items"))
                .isEmpty();
        assertThat(activeElementId()).as("focus on Undo").isEqualTo("undo");
        browser.findElement(By.id("undo")).click();
        new WebDriverWait(browser, WAIT)
                .until(d -> !d.findElements(By.cssSelector(".card[data-job-id='" + batch + "']"))
                        .isEmpty());
        assertThat(alice.get("/api/v1/jobs?q=" + encode("four lighthouses"))
                        .json()
                        .get("items"))
                .hasSize(1);

        browser.findElement(By.id("search")).sendKeys("LIGHTHOUSE");
        new WebDriverWait(browser, WAIT)
                .until(d -> cardPrompts().stream().allMatch(p -> p.toLowerCase().contains("lighthouse")));
        assertThat(cardPrompts()).hasSizeGreaterThanOrEqualTo(2);
        browser.findElement(By.id("search")).sendKeys("s with no match");
        new WebDriverWait(browser, WAIT)
                .until(d -> d.findElement(By.id("empty")).isDisplayed());
        assertThat(browser.findElement(By.id("empty")).getText())
                .isEqualTo("No jobs whose prompt contains \"LIGHTHOUSEs with no match\".");
        js("const s = document.getElementById('search'); s.value = ''; s.dispatchEvent(new Event('input'));");
        new WebDriverWait(browser, WAIT).until(d -> cardCount() > 3);
    }

    @Test
    @Order(7)
    void aForgeOutageShowsABannerReturnsTheJobToTheQueueWithoutItsPreviewAndClearsWhenForgeIsBack() {
        openSignedIn();
        recordPage();

        forge.holdAtStep(3);
        submitFromTheForm("a job during the outage", "512x512", 10);
        String jobId = awaitCard("during the outage", s -> s.status().equals("RUNNING") && s.preview())
                .jobId();
        forge.goDown();
        WebElement banner = new WebDriverWait(browser, WAIT).until(d -> {
            WebElement b = d.findElement(By.id("outage"));
            return b.isDisplayed() ? b : null;
        });
        CardState returned = awaitCard(
                "during the outage",
                s -> s.status().equals("QUEUED") && s.why().startsWith("No GPU is available right now"));
        awaitHeader("the paused worker is not counted as ready", h -> h.contains("0 GPUs ready · 1 paused"));
        screenshot("12-outage", jobId);
        assertAccessible("outage");

        assertThat(banner.getText())
                .isEqualTo("No GPU is available right now.\nThe image server is not answering. "
                        + "Your jobs wait and resume on their own when it is back; nothing is lost.");
        assertThat(banner.getAttribute("role")).as("announced politely").isEqualTo("status");
        assertThat(returned.line()).startsWith("Returned to the queue, will run again");
        assertThat(returned.preview())
                .as("no stale preview of the attempt that stopped")
                .isFalse();
        assertThat(cardOf(jobId).findElements(By.cssSelector(".media img"))).isEmpty();

        forge.clearFaults();
        forge.comeUp();
        new WebDriverWait(browser, WAIT)
                .until(d -> !d.findElement(By.id("outage")).isDisplayed());
        awaitCard("during the outage", s -> s.status().equals("SUCCEEDED"));
        List<CardState> shown = statesOf("during the outage");

        assertThat(awaitAnnouncement(a -> a.contains("GPUs are available again")))
                .isNotNull();
        assertThat(shown).as("every state the card showed: %s", shown).allMatch(CardState::lineMatchesBadge);
        assertThat(statusesInOrder(shown))
                .as("states in order: %s", shown)
                .endsWith("RUNNING", "QUEUED", "RUNNING", "SUCCEEDED");
    }

    @Test
    @Order(8)
    void aJobThatEndsWhileTheTabIsInTheBackgroundIsCountedInTheTitleAndIconAndNotifiedWhenAskedFor() {
        openSignedIn();
        recordPage();
        String page = browser.getWindowHandle();
        // headless Chromium shows no notifications: the page's Notification is replaced by a recorder that grants
        // what it is asked; the favicon's changes are recorded too
        js("window.fqNotes = [];"
                + "const Recorder = function (title, options) { window.fqNotes.push(title + ': ' + options.body); };"
                + "Recorder.permission = 'default';"
                + "Recorder.requestPermission = () => { Recorder.permission = 'granted'; return Promise.resolve('granted'); };"
                + "window.Notification = Recorder;"
                + "window.fqIcons = []; const icon = document.getElementById('favicon');"
                + "new MutationObserver(() => window.fqIcons.push(icon.href.slice(0, 22)))"
                + ".observe(icon, { attributes: true, attributeFilter: ['href'] });");
        WebElement notify = browser.findElement(By.id("notify"));
        assertThat(notify.getText()).isEqualTo("Notify me");
        notify.click();
        new WebDriverWait(browser, WAIT).until(d -> notify.getText().equals("Notifications on"));

        forge.holdAtStep(2);
        submitFromTheForm("done while you look elsewhere", "512x512", 4);
        awaitCard("look elsewhere", s -> s.status().equals("RUNNING"));
        browser.switchTo().newWindow(WindowType.TAB);
        browser.get("about:blank");
        forge.clearFaults();
        String background = new WebDriverWait(browser, WAIT).until(d -> titleOfOtherTab(page));

        assertThat(background).isEqualTo("(1) Forge Queue");
        browser.close();
        browser.switchTo().window(page);
        new WebDriverWait(browser, WAIT).until(d -> d.getTitle().equals("Forge Queue"));
        assertThat(awaitAnnouncement(a -> a.contains("\"done while you look elsewhere\" is done.")))
                .isNotNull();
        assertThat(js("return window.fqNotes"))
                .as("the opted-in notification")
                .isEqualTo(List.of("Forge Queue: \"done while you look elsewhere\" is done."));
        assertThat(js("return window.fqIcons"))
                .as("the icon counted the job, then was cleared when seen")
                .isEqualTo(List.of("data:image/png;base64,", "data:,"));
        js("localStorage.removeItem('forgequeue.notify')");
    }

    @Test
    @Order(9)
    void aKeyLinkOpenedInATabAlreadyOnThePageSignsInWithThatKeyAndLeavesNoKeyInTheAddress() {
        openSignedIn();
        String base = system.gateway(0).baseUrl() + "/";

        browser.get(base + "#key=" + encode(BOB_KEY));
        new WebDriverWait(browser, WAIT).until(d -> cardPrompts().stream().anyMatch(p -> p.startsWith("bob's")));
        assertThat(cardPrompts()).noneMatch(p -> p.contains("lighthouse"));
        assertThat(browser.getCurrentUrl()).isEqualTo(base);
        new WebDriverWait(browser, WAIT)
                .until(d -> d.findElement(By.id("conn-text")).getText().equals("live"));

        browser.get(base + "#key=" + encode(ALICE_KEY));
        new WebDriverWait(browser, WAIT).until(d -> cardPrompts().stream().anyMatch(p -> p.contains("lighthouse")));
        assertThat(browser.getCurrentUrl()).isEqualTo(base);
    }

    @Test
    @Order(10)
    void aLandscapeJobThatEndsWhileThePageIsCutOffIsShownDoneInItsShapeAfterTheReconnectAndOnAPhone() {
        openSignedIn();
        recordPage();
        long completed = forge.stats().calls().completed();

        // the job is held on the GPU until the gateway is gone, then finishes while the page cannot hear about it
        forge.holdAtStep(2);
        submitFromTheForm("a wide harbour that ends while the page is cut off", "768x512", 10);
        String jobId = awaitCard("cut off", s -> s.status().equals("RUNNING")).jobId();
        system.gateway(0).kill();
        new WebDriverWait(browser, Duration.ofSeconds(10))
                .until(d -> !d.findElement(By.id("conn-text")).getText().equals("live"));
        forge.clearFaults();
        awaitSim("the job finished on the GPU", () -> forge.stats().calls().completed() == completed + 1);
        system.gateway(0).restart();
        new WebDriverWait(browser, Duration.ofSeconds(60))
                .until(d -> d.findElement(By.id("conn-text")).getText().equals("live"));

        awaitCard("cut off", s -> s.status().equals("SUCCEEDED"));
        RenderedImage wide = awaitImage(jobId);
        // the restarted gateway merges the outcome it missed: the job is not taken back and run a second time
        assertThat(forge.stats().calls().completed())
                .as("generations completed")
                .isEqualTo(completed + 1);
        screenshot("4-after-reconnect", jobId);
        List<CardState> shown = statesOf("cut off");
        assertThat(shown).as("every state the card showed: %s", shown).allMatch(CardState::lineMatchesBadge);
        assertThat(statusesInOrder(shown))
                .as("states in order: %s", shown)
                .endsWith("RUNNING", "SUCCEEDED")
                .doesNotHaveDuplicates();
        assertKeepsItsShape(wide, 768, 512);

        browser.manage().window().setSize(new Dimension(390, 844));
        try {
            browser.navigate().refresh();
            RenderedImage onPhone = awaitImage(jobId);
            new WebDriverWait(browser, WAIT)
                    .until(d -> d.findElement(By.id("conn-text")).getText().equals("live"));
            js("window.scrollTo(0, 0)");
            screenshot("5-phone-width");
            assertAccessible("phone width");
            assertKeepsItsShape(onPhone, 768, 512);
            assertThat(js("return document.documentElement.scrollWidth > window.innerWidth"))
                    .as("no sideways scrolling at phone width")
                    .isEqualTo(false);

            double header = ((Number) js("return document.querySelector('header.top').getBoundingClientRect().height"))
                    .doubleValue();
            assertThat(header).as("header height at 390x844").isLessThanOrEqualTo(96);
            js("window.scrollTo(0, 500)");
            assertThat(((Number) js("return document.querySelector('header.top').getBoundingClientRect().bottom"))
                            .doubleValue())
                    .as("the header scrolls away and takes no screen while reading the list")
                    .isLessThanOrEqualTo(0);
            js("window.scrollTo(0, 0)");
            openMoreOptions();
            screenshot("5b-phone-options-open");
            assertThat(((Number) js("return document.getElementById('submit').getBoundingClientRect().bottom"))
                            .doubleValue())
                    .as("Generate is on the first screen with the options open")
                    .isLessThanOrEqualTo(844);
            assertThat(smallTapTargets()).as("controls smaller than 44 px").isEmpty();
        } finally {
            browser.manage().window().setSize(new Dimension(1280, 900));
        }
    }

    @Test
    @Order(11)
    void aJobWhoseDataWereErasedSaysSoAndOffersNothingThatWouldNeedItsPromptOrImages() {
        Http alice = system.http(0, ALICE_KEY);
        openSignedIn();
        recordPage();
        submitFromTheForm("a private prompt to erase", "512x512", 4);
        String jobId = awaitCard("a private prompt to erase", s -> s.status().equals("SUCCEEDED"))
                .jobId();
        awaitImage(jobId);

        assertThat(alice.delete("/api/v1/jobs/" + jobId + "/data").status()).isEqualTo(200);
        CardState erased = awaitCard("Prompt and images erased", s -> s.jobId().equals(jobId));
        WebElement card = cardOf(jobId);
        screenshot("13-erased", jobId);

        assertThat(erased.badge()).isEqualTo("Done");
        assertThat(card.findElements(By.cssSelector(".media img")))
                .as("no image left")
                .isEmpty();
        assertThat(card.findElement(By.cssSelector(".reuse")).isDisplayed())
                .as("no prompt to reuse")
                .isFalse();
        assertThat(card.findElement(By.cssSelector(".download-all")).isDisplayed())
                .isFalse();
        assertThat(card.findElement(By.cssSelector(".hide")).isDisplayed())
                .as("it can still leave the history")
                .isTrue();
        assertThat(cardPrompts()).noneMatch(p -> p.contains("a private prompt to erase"));
    }

    // ---------- the page ----------

    /** Opens the page and signs in with the form, unless the browser still has the key. */
    @Test
    @Order(12)
    void aRunningJobCancelledFromItsCardSaysWhenAndHowFarItGot() {
        openSignedIn();
        recordPage();

        forge.holdAtStep(2); // of 4 steps: the GPU reports half the work done, then holds it
        submitFromTheForm("stop me halfway", "512x512", 4);
        CardState running = awaitCard(
                "stop me halfway",
                s -> s.status().equals("RUNNING") && s.badge().matches("Running [1-9][0-9]*%"));
        cardOf(running.jobId()).findElement(By.cssSelector(".cancel")).click();
        CardState cancelled = awaitCard("stop me halfway", s -> s.status().equals("CANCELLED"));
        forge.clearFaults();

        assertThat(cancelled.line()).matches("Cancelled at .+, after [1-9][0-9]*% of the work");
        assertThat(statesOf("stop me halfway")).allMatch(CardState::lineMatchesBadge);
    }

    private void openSignedIn() {
        if (!browser.getCurrentUrl().startsWith(system.gateway(0).baseUrl())) {
            browser.get(system.gateway(0).baseUrl() + "/");
        }
        WebDriverWait wait = new WebDriverWait(browser, WAIT);
        wait.until(d -> d.findElement(By.id("key-input")).isDisplayed()
                || d.findElement(By.id("prompt")).isDisplayed());
        if (browser.findElement(By.id("key-input")).isDisplayed()) {
            browser.findElement(By.id("key-input")).sendKeys(ALICE_KEY);
            browser.findElement(By.cssSelector("#key-form button")).click();
        }
        wait.until(d -> d.findElement(By.id("prompt")).isDisplayed());
        wait.until(d -> d.findElement(By.id("conn-text")).getText().equals("live"));
    }

    private void submitFromTheForm(String prompt, String size, int steps) {
        submitFromTheForm(prompt, size, steps, 1);
    }

    private void submitFromTheForm(String prompt, String size, int steps, int images) {
        WebElement field = browser.findElement(By.id("prompt"));
        field.clear();
        field.sendKeys(prompt);
        openMoreOptions();
        new Select(browser.findElement(By.name("size"))).selectByValue(size);
        setField("steps", steps);
        setField("batchSize", images);
        setField("seed", -1);
        browser.findElement(By.id("submit")).click();
    }

    private void setField(String name, int value) {
        WebElement field = browser.findElement(By.name(name));
        field.clear();
        field.sendKeys(Integer.toString(value));
    }

    private void openMoreOptions() {
        WebElement more = browser.findElement(By.id("more"));
        if (more.getAttribute("open") == null) {
            browser.findElement(By.cssSelector("#more summary")).click();
        }
    }

    private void recordPage() {
        js(RECORD_PAGE);
    }

    /** Every state the card whose prompt contains {@code promptPart} showed since {@link #recordPage()}. */
    private List<CardState> statesOf(String promptPart) {
        Object recorded = js("return window.cardStates || []");
        List<CardState> states = new ArrayList<>();
        for (Object o : (List<?>) recorded) {
            Map<?, ?> m = (Map<?, ?>) o;
            CardState s = new CardState(
                    (String) m.get("jobId"),
                    (String) m.get("prompt"),
                    (String) m.get("badge"),
                    (String) m.get("line"),
                    (String) m.get("why"),
                    Boolean.TRUE.equals(m.get("preview")),
                    ((Number) m.get("at")).longValue());
            if (s.prompt().contains(promptPart)) {
                states.add(s);
            }
        }
        return states;
    }

    /** Waits until the card has shown a state that matches, and returns that state. */
    private CardState awaitCard(String promptPart, Predicate<CardState> shown) {
        try {
            return new WebDriverWait(browser, WAIT)
                    .pollingEvery(Duration.ofMillis(50))
                    .until(d -> statesOf(promptPart).stream()
                            .filter(shown)
                            .findFirst()
                            .orElse(null));
        } catch (org.openqa.selenium.TimeoutException e) {
            throw new AssertionError(
                    "the card of '" + promptPart + "' never showed the awaited state; it showed "
                            + statesOf(promptPart),
                    e);
        }
    }

    @SuppressWarnings("unchecked")
    private List<String> announcements() {
        return (List<String>) js("return window.announcements || []");
    }

    /** Waits until the live region has said something that matches, and returns it. */
    private String awaitAnnouncement(Predicate<String> said) {
        try {
            return new WebDriverWait(browser, WAIT)
                    .pollingEvery(Duration.ofMillis(50))
                    .until(d ->
                            announcements().stream().filter(said).findFirst().orElse(null));
        } catch (org.openqa.selenium.TimeoutException e) {
            throw new AssertionError("the live region never said the awaited text; it said " + announcements(), e);
        }
    }

    record HeaderText(String text, long at) {}

    private List<HeaderText> headerTexts() {
        List<HeaderText> out = new ArrayList<>();
        for (Object o : (List<?>) js("return window.headerTexts || []")) {
            Map<?, ?> m = (Map<?, ?>) o;
            out.add(new HeaderText((String) m.get("text"), ((Number) m.get("at")).longValue()));
        }
        return out;
    }

    private String headerText() {
        return browser.findElement(By.id("queue-stats")).getText();
    }

    private void awaitHeader(String what, Predicate<String> shown) {
        try {
            new WebDriverWait(browser, WAIT).pollingEvery(Duration.ofMillis(50)).until(d -> shown.test(headerText()));
        } catch (org.openqa.selenium.TimeoutException e) {
            throw new AssertionError(what + ": the header never showed it; it showed " + headerTexts(), e);
        }
    }

    private void awaitLightbox(String titleStart) {
        try {
            new WebDriverWait(browser, WAIT).pollingEvery(Duration.ofMillis(50)).until(d -> {
                String title = d.findElement(By.id("lightbox-title")).getText();
                Object loaded = js("const i = document.getElementById('lightbox-image'); "
                        + "return i.complete && i.naturalWidth > 0 && i.src.startsWith('blob:')");
                return title.startsWith(titleStart) && Boolean.TRUE.equals(loaded);
            });
        } catch (org.openqa.selenium.TimeoutException e) {
            throw new AssertionError(
                    "the lightbox never showed '" + titleStart + "'; it shows '"
                            + browser.findElement(By.id("lightbox-title")).getText() + "'",
                    e);
        }
    }

    private WebElement cardOf(String jobId) {
        return browser.findElement(By.cssSelector(".card[data-job-id='" + jobId + "']"));
    }

    private int cardCount() {
        return browser.findElements(By.cssSelector("#jobs .card")).size();
    }

    private boolean allCardsAre(String status) {
        return browser.findElements(By.cssSelector("#jobs .card")).stream()
                .allMatch(c -> status.equals(c.getAttribute("data-status")));
    }

    @SuppressWarnings("unchecked")
    private List<String> cardPrompts() {
        return (List<String>)
                js("return [...document.querySelectorAll('#jobs .card .prompt')].map(p => p.textContent)");
    }

    private String activeElementId() {
        return (String) js("return document.activeElement && document.activeElement.id");
    }

    private String activeElementName() {
        return (String) js("return document.activeElement && document.activeElement.name");
    }

    /** The title of the page's tab while another tab is in front, read through the DevTools protocol. */
    private String titleOfOtherTab(String handle) {
        Map<String, Object> targets = ((ChromeDriver) browser).executeCdpCommand("Target.getTargets", Map.of());
        for (Object t : (List<?>) targets.get("targetInfos")) {
            Map<?, ?> info = (Map<?, ?>) t;
            if ("page".equals(info.get("type"))
                    && String.valueOf(info.get("url"))
                            .startsWith(system.gateway(0).baseUrl())
                    && String.valueOf(info.get("title")).startsWith("(")) {
                return (String) info.get("title");
            }
        }
        return null;
    }

    /** Visible controls less than 44 px high (WCAG 2.2 target size, the goal on a phone). */
    @SuppressWarnings("unchecked")
    private List<String> smallTapTargets() {
        return (List<String>) js("""
                const small = [];
                for (const el of document.querySelectorAll('button, a[href], input, select, textarea, summary')) {
                  if (el.classList.contains('skip') || el.closest('[hidden]') || el.closest('dialog:not([open])')) continue;
                  const r = el.getBoundingClientRect();
                  if (r.width === 0 || r.height === 0) continue;
                  if (r.height < 44) small.push((el.id || el.className || el.tagName) + ' "' + (el.innerText || el.name || '')
                      .slice(0, 30) + '" ' + Math.round(r.height) + ' px');
                }
                return small;""");
    }

    /** Runs axe-core in the page: no serious or critical violation of WCAG 2.x A/AA rules. */
    private void assertAccessible(String pageState) {
        if (!Boolean.TRUE.equals(js("return !!window.axe"))) {
            try (InputStream in = BrowserSystemIT.class.getResourceAsStream(AXE)) {
                if (in == null) {
                    throw new IllegalStateException("axe-core not on the test classpath at " + AXE);
                }
                js(new String(in.readAllBytes(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
        Object result = ((JavascriptExecutor) browser).executeAsyncScript("""
                const done = arguments[arguments.length - 1];
                axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
                  .then(r => done(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                      .map(v => v.id + ' (' + v.impact + '): ' + v.help + ' at '
                          + v.nodes.map(n => n.target.join(' ') + ' [' + (n.failureSummary || '') + ']').join('; '))))
                  .catch(e => done(['axe failed: ' + e]));""");
        assertThat((List<?>) result)
                .as("serious or critical accessibility violations (%s)", pageState)
                .isEmpty();
    }

    /** Waits until the job's result image is loaded and drawn, and returns its sizes. */
    private RenderedImage awaitImage(String jobId) {
        return awaitImages(jobId, 1).get(0);
    }

    /** Waits until the job's {@code count} result images are loaded and drawn, and returns their sizes. */
    private List<RenderedImage> awaitImages(String jobId, int count) {
        Object measured = new WebDriverWait(browser, WAIT)
                .pollingEvery(Duration.ofMillis(50))
                .until(d -> js("""
                const card = document.querySelector(".card[data-job-id='" + arguments[0] + "']");
                const imgs = card ? [...card.querySelectorAll('.media img:not(.live)')] : [];
                if (imgs.length !== arguments[1] || imgs.some(i => !i.complete || i.naturalWidth === 0)) return null;
                const media = card.querySelector('.media').getBoundingClientRect();
                return imgs.map(img => {
                  const box = img.getBoundingClientRect();
                  return [img.naturalWidth, img.naturalHeight, box.width, box.height, media.width];
                });""", jobId, count));
        List<RenderedImage> images = new ArrayList<>();
        for (Object o : (List<?>) measured) {
            List<?> v = (List<?>) o;
            images.add(new RenderedImage(
                    ((Number) v.get(0)).longValue(),
                    ((Number) v.get(1)).longValue(),
                    ((Number) v.get(2)).doubleValue(),
                    ((Number) v.get(3)).doubleValue(),
                    ((Number) v.get(4)).doubleValue()));
        }
        return images;
    }

    /** The image is the PNG that was asked for, drawn in the PNG's proportions across its card. */
    private static void assertKeepsItsShape(RenderedImage image, int width, int height) {
        assertThat(image.naturalWidth()).as("PNG width").isEqualTo(width);
        assertThat(image.naturalHeight()).as("PNG height").isEqualTo(height);
        assertThat(image.renderedRatio())
                .as("width/height as drawn (%s), against the PNG's", image)
                .isCloseTo(image.naturalRatio(), within(0.02 * image.naturalRatio()));
        assertThat(image.width())
                .as("a lone result fills its card (%s)", image)
                .isGreaterThanOrEqualTo(0.9 * image.mediaWidth());
    }

    private Object js(String script, Object... args) {
        return ((JavascriptExecutor) browser).executeScript(script, args);
    }

    private static void awaitSim(String what, Callable<Boolean> condition) {
        await(what).atMost(WAIT).pollInterval(Duration.ofMillis(20)).until(condition);
    }

    private static String encode(String text) {
        return URLEncoder.encode(text, StandardCharsets.UTF_8);
    }

    /** The statuses in the order the card showed them, each once per stretch. */
    private static List<String> statusesInOrder(List<CardState> shown) {
        List<String> statuses = new ArrayList<>();
        for (CardState s : shown) {
            if (statuses.isEmpty() || !statuses.get(statuses.size() - 1).equals(s.status())) {
                statuses.add(s.status());
            }
        }
        return statuses;
    }

    /** A screenshot with the job's card scrolled into the middle of the window. */
    private void screenshot(String name, String jobId) {
        js(
                "document.querySelector(\".card[data-job-id='\" + arguments[0] + \"']\").scrollIntoView({ block: 'center' })",
                jobId);
        screenshot(name);
    }

    private void screenshot(String name) {
        File shot = ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE);
        try {
            Files.copy(
                    shot.toPath(),
                    SystemPaths.artifactDir("screenshots").resolve(name + ".png"),
                    StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Installs Debian's chromium and chromium-driver with the project's script when they are missing. */
    private static void ensureChromium() throws IOException, InterruptedException {
        if (Files.isExecutable(CHROMEDRIVER) && Files.isExecutable(CHROMIUM)) {
            return;
        }
        Process p = new ProcessBuilder(
                        "bash",
                        SystemPaths.root().resolve("infra/local/chromium.sh").toString(),
                        "install")
                .inheritIO()
                .start();
        if (p.waitFor() != 0 || !Files.isExecutable(CHROMEDRIVER)) {
            throw new IllegalStateException("Chromium is needed for the browser test and could not be installed: "
                    + "run infra/local/chromium.sh install as root (Debian packages chromium and chromium-driver)");
        }
    }
}
