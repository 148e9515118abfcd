// Command adsload drives whole ads through Envoy as devices do: ServeAd, then the filled
// ad's feedback, then the next ServeAd, closed loop on many connections at once.
//
//	adsload plan.json result.json
//
// The plan (written by clients/bench/ads.py) names the URLs, the ServeAd bodies with each
// user's action probability, the seed, the warm-up and measured seconds and the number of
// devices. The result holds the measured window's latencies (µs) per call and per pair,
// counts, and every acknowledged feedback's request id and expenditure, warm-up included,
// so the caller can check the books for all the traffic it caused.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// Ask is one ServeAd body of the mix and its user's chance of an acquisition (and a click).
type Ask struct {
	Body        string  `json:"body"`
	Probability float64 `json:"probability"`
}

// Plan is what the benchmark asks for.
type Plan struct {
	ServeURL       string  `json:"serve_url"`
	FeedbackURL    string  `json:"feedback_url"`
	Asks           []Ask   `json:"asks"`
	Seed           int64   `json:"seed"`
	WarmupSeconds  float64 `json:"warmup_seconds"`
	Seconds        float64 `json:"seconds"`
	Connections    int     `json:"connections"`
	TimeoutSeconds float64 `json:"timeout_seconds"`
}

// Charge is one acknowledged feedback: the served ad's request id and what it cost.
type Charge struct {
	RequestID   string `json:"request_id"`
	Expenditure string `json:"expenditure"`
}

// Result is what the run measured.
type Result struct {
	Seconds        float64  `json:"seconds"`
	Served         int      `json:"served"`    // ServeAd answered in the measured window
	Filled         int      `json:"filled"`    // of which carried an ad
	WholeAds       int      `json:"whole_ads"` // filled and acknowledged in the window
	ServeErrors    int      `json:"serve_errors"`
	FeedbackErrors int      `json:"feedback_errors"` // failed attempts, each retried
	ServeMicros    []int64  `json:"serve_us"`
	FeedbackMicros []int64  `json:"feedback_us"`
	PairMicros     []int64  `json:"pair_us"`
	Charges        []Charge `json:"charges"`   // every acknowledged feedback, warm-up too
	Uncharged      []string `json:"uncharged"` // served ads whose feedback never got through
	ErrorSamples   []string `json:"error_samples"`
}

const (
	maxErrorSamples  = 5
	feedbackAttempts = 3 // a device retries a refused feedback, as the RetryInfo asks
	retryDelay       = time.Second
)

// refusal is an answer other than 200; 503 and 504 ask the device to try again.
type refusal struct {
	url    string
	status int
	text   []byte
}

func (r *refusal) Error() string {
	return fmt.Sprintf("%s: HTTP %d: %.200s", r.url, r.status, r.text)
}

func (r *refusal) retryable() bool {
	return r.status == http.StatusServiceUnavailable || r.status == http.StatusGatewayTimeout
}

type device struct {
	plan   *Plan
	client *http.Client
	rng    *rand.Rand
	next   int
	result Result
}

func (d *device) fail(err error) {
	if len(d.result.ErrorSamples) < maxErrorSamples {
		d.result.ErrorSamples = append(d.result.ErrorSamples, err.Error())
	}
}

// post sends one JSON body and decodes the JSON answer; any status but 200 is an error.
func (d *device) post(url string, body []byte, answer any) error {
	response, err := d.client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer response.Body.Close()
	text, err := io.ReadAll(response.Body) // read to the end: the connection is reused
	if err != nil {
		return err
	}
	if response.StatusCode != http.StatusOK {
		return &refusal{url, response.StatusCode, text}
	}
	return json.Unmarshal(text, answer)
}

// run plays one device until the end: each pair starts only before it, and finishes.
func (d *device) run(measureFrom, end time.Time) {
	var served struct {
		RequestID string `json:"request_id"`
	}
	for {
		started := time.Now()
		if !started.Before(end) {
			return
		}
		measured := !started.Before(measureFrom)
		ask := d.plan.Asks[d.next]
		d.next = (d.next + 1) % len(d.plan.Asks)
		served.RequestID = ""
		if err := d.post(d.plan.ServeURL, []byte(ask.Body), &served); err != nil {
			d.result.ServeErrors++
			d.fail(err)
			continue
		}
		answered := time.Now()
		if measured {
			d.result.Served++
			d.result.ServeMicros = append(d.result.ServeMicros, answered.Sub(started).Microseconds())
		}
		if served.RequestID == "" {
			continue
		}
		if measured {
			d.result.Filled++
		}
		acquisition := d.rng.Float64() < ask.Probability
		click := acquisition || d.rng.Float64() < ask.Probability
		feedback, _ := json.Marshal(map[string]any{
			"request_id": served.RequestID, "view": 1, "click": flag(click), "acquisition": flag(acquisition),
		})
		charged, ok := d.charge(served.RequestID, feedback)
		if !ok {
			d.result.Uncharged = append(d.result.Uncharged, served.RequestID)
			continue
		}
		done := time.Now()
		d.result.Charges = append(d.result.Charges, charged)
		if measured {
			d.result.WholeAds++
			d.result.FeedbackMicros = append(d.result.FeedbackMicros, done.Sub(answered).Microseconds())
			d.result.PairMicros = append(d.result.PairMicros, done.Sub(started).Microseconds())
		}
	}
}

// charge submits one feedback until it is acknowledged, retrying what the platform asks to
// be retried (a request id is charged at most once, so a retry never charges twice).
// The answer carries the same two fields as a Charge.
func (d *device) charge(requestID string, feedback []byte) (Charge, bool) {
	for attempt := 1; ; attempt++ {
		var charged Charge
		err := d.post(d.plan.FeedbackURL, feedback, &charged)
		if err == nil && charged.RequestID != requestID {
			err = errors.New("feedback answered for another request id: " + charged.RequestID)
		}
		if err == nil {
			return charged, true
		}
		d.result.FeedbackErrors++
		d.fail(err)
		var transport net.Error
		var refused *refusal
		retryable := errors.As(err, &transport) || errors.As(err, &refused) && refused.retryable()
		if !retryable || attempt == feedbackAttempts {
			return Charge{}, false
		}
		time.Sleep(retryDelay)
	}
}

func flag(on bool) int {
	if on {
		return 1
	}
	return 0
}

func seconds(value float64) time.Duration {
	return time.Duration(value * float64(time.Second))
}

func load(path string) (*Plan, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	plan := &Plan{}
	if err := json.Unmarshal(text, plan); err != nil {
		return nil, err
	}
	if len(plan.Asks) == 0 || plan.Connections < 1 || plan.Seconds <= 0 {
		return nil, errors.New("the plan needs asks, connections >= 1 and seconds > 0")
	}
	return plan, nil
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: adsload plan.json result.json")
		os.Exit(2)
	}
	plan, err := load(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "adsload:", err)
		os.Exit(2)
	}
	// One keep-alive connection per device, as a phone keeps its own.
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: seconds(plan.TimeoutSeconds)}).DialContext,
		MaxIdleConns:        plan.Connections,
		MaxIdleConnsPerHost: plan.Connections,
		MaxConnsPerHost:     plan.Connections,
		IdleConnTimeout:     time.Minute,
	}
	client := &http.Client{Transport: transport, Timeout: seconds(plan.TimeoutSeconds)}
	began := time.Now()
	measureFrom := began.Add(seconds(plan.WarmupSeconds))
	end := measureFrom.Add(seconds(plan.Seconds))
	devices := make([]*device, plan.Connections)
	var group sync.WaitGroup
	for number := range devices {
		devices[number] = &device{
			plan:   plan,
			client: client,
			rng:    rand.New(rand.NewSource(plan.Seed + int64(number))),
			next:   (number * 7919) % len(plan.Asks),
		}
		group.Add(1)
		go func(d *device) {
			defer group.Done()
			d.run(measureFrom, end)
		}(devices[number])
	}
	group.Wait()
	total := Result{Seconds: plan.Seconds, Charges: []Charge{}, Uncharged: []string{},
		ServeMicros: []int64{}, FeedbackMicros: []int64{}, PairMicros: []int64{}, ErrorSamples: []string{}}
	for _, d := range devices {
		r := d.result
		total.Served += r.Served
		total.Filled += r.Filled
		total.WholeAds += r.WholeAds
		total.ServeErrors += r.ServeErrors
		total.FeedbackErrors += r.FeedbackErrors
		total.ServeMicros = append(total.ServeMicros, r.ServeMicros...)
		total.FeedbackMicros = append(total.FeedbackMicros, r.FeedbackMicros...)
		total.PairMicros = append(total.PairMicros, r.PairMicros...)
		total.Charges = append(total.Charges, r.Charges...)
		total.Uncharged = append(total.Uncharged, r.Uncharged...)
		for _, sample := range r.ErrorSamples {
			if len(total.ErrorSamples) < maxErrorSamples {
				total.ErrorSamples = append(total.ErrorSamples, sample)
			}
		}
	}
	text, err := json.Marshal(total)
	if err == nil {
		err = os.WriteFile(os.Args[2], text, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "adsload:", err)
		os.Exit(1)
	}
}
