// Command browse is the interop suite's browser: it loads a page in
// headless Chromium (Debian's chromium package) with chromedp, optionally
// clicks an element and waits for the next page, saves a screenshot and
// prints a JSON object: the final URL, the page's title, its text, the
// number of <script> and <img> elements and the value of --eval.
//
//	browse --url URL [--click SEL --after SEL] [--screenshot PATH] [--eval JS]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/chromedp/chromedp"
)

func main() {
	url := flag.String("url", "", "page to load")
	var clicks, afters []string
	flag.Func("click", "CSS selector of an element to click after loading (repeat: clicked in turn, each followed by its --after)",
		func(s string) error { clicks = append(clicks, s); return nil })
	flag.Func("after", "CSS selector to wait for after the click of the same rank (default body)",
		func(s string) error { afters = append(afters, s); return nil })
	shot := flag.String("screenshot", "", "save a full-page PNG here")
	eval := flag.String("eval", "", "JavaScript expression to evaluate at the end")
	timeout := flag.Duration("timeout", 30*time.Second, "give up after this long")
	flag.Parse()

	bin := os.Getenv("CHROMIUM")
	if bin == "" {
		for _, b := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(b); err == nil {
				bin = p
				break
			}
		}
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, *timeout)
	defer cancel()

	var out struct {
		URL     string `json:"url"`
		Title   string `json:"title"`
		Text    string `json:"text"`
		Scripts int    `json:"scripts"`
		Images  int    `json:"images"`
		Eval    any    `json:"eval"`
	}
	actions := []chromedp.Action{chromedp.Navigate(*url), chromedp.WaitReady("body")}
	for i, c := range clicks {
		after := "body"
		if i < len(afters) {
			after = afters[i]
		}
		actions = append(actions, chromedp.Click(c, chromedp.ByQuery), chromedp.WaitReady(after, chromedp.ByQuery))
	}
	if *shot != "" {
		var png []byte // quality 100 makes a PNG (lower: JPEG)
		actions = append(actions, chromedp.FullScreenshot(&png, 100), chromedp.ActionFunc(func(context.Context) error {
			return os.WriteFile(*shot, png, 0o644)
		}))
	}
	actions = append(actions, chromedp.Location(&out.URL), chromedp.Title(&out.Title),
		chromedp.Evaluate(`document.body.innerText`, &out.Text),
		chromedp.Evaluate(`document.getElementsByTagName("script").length`, &out.Scripts),
		chromedp.Evaluate(`document.getElementsByTagName("img").length`, &out.Images))
	if *eval != "" {
		actions = append(actions, chromedp.Evaluate(*eval, &out.Eval))
	}
	if err := chromedp.Run(ctx, actions...); err != nil {
		fmt.Fprintln(os.Stderr, "browse:", err)
		os.Exit(1)
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}
