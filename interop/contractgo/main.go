// Command contractgo enqueues every job of the interop contract app
// (interop/contractapp) through the Go package goarq gen go wrote from its
// contract (interop/contractapp/appjobs), waits for each typed result, and
// prints them as one JSON object: {"results": {"function": result, ...}}.
// interop/test_contract.py runs it against real Python arq workers.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/interop/contractapp/appjobs"
)

func main() {
	redisURL := flag.String("redis", os.Getenv("REDIS_URL"), "Redis URL")
	flag.Parse()
	if err := run(*redisURL); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func ptr[T any](v T) *T { return &v }

func run(redisURL string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.DialURL(ctx, redisURL, client.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	wait := client.ResultOptions{Timeout: 20 * time.Second, PollDelay: 20 * time.Millisecond}
	results := map[string]any{}

	welcome, err := appjobs.EnqueueSendWelcomeEmail(ctx, c, appjobs.SendWelcomeEmailArgs{UserID: 7, Channel: ptr(appjobs.ChannelSms)},
		client.EnqueueOptions{JobID: "contract-welcome"})
	if err != nil {
		return err
	}
	placedAt := time.Date(2026, 12, 4, 9, 30, 0, 0, time.UTC)
	order, err := appjobs.EnqueuePlaceOrder(ctx, c, appjobs.PlaceOrderArgs{
		Order: appjobs.Order{ID: 42, CustomerEmail: "a@b.c", PlacedAt: placedAt,
			Items: []appjobs.Item{{SKU: "pen", Quantity: ptr[int64](2)}, {SKU: "ink"}}},
		Priority: ptr(appjobs.PriorityHigh),
	}, client.EnqueueOptions{JobID: "contract-order"})
	if err != nil {
		return err
	}
	ship, err := appjobs.EnqueueShipTo(ctx, c, appjobs.ShipToArgs{
		Address: appjobs.Address{Street: "1 Main St", City: "Lyon"}, Where: &appjobs.Point{X: 1.5, Y: 2},
	}, client.EnqueueOptions{JobID: "contract-ship"})
	if err != nil {
		return err
	}
	tags, err := appjobs.EnqueueTagItems(ctx, c, appjobs.TagItemsArgs{Skus: []string{"pen", "cap"}, Weights: map[string]float64{"pen": 0.5}},
		client.EnqueueOptions{JobID: "contract-tags"})
	if err != nil {
		return err
	}

	// each Result is typed as the Python function's return annotation
	var s string
	if s, err = welcome.Result(ctx, wait); err != nil {
		return fmt.Errorf("send_welcome_email: %w", err)
	}
	results["send_welcome_email"] = s
	var receipt appjobs.Receipt // a pydantic model in Python
	if receipt, err = order.Result(ctx, wait); err != nil {
		return fmt.Errorf("place_order: %w", err)
	}
	results["place_order"] = map[string]any{"order_id": receipt.OrderID, "total_items": receipt.TotalItems,
		"priority_is_high": receipt.Priority == appjobs.PriorityHigh}
	var lines []string
	if lines, err = ship.Result(ctx, wait); err != nil {
		return fmt.Errorf("ship_to: %w", err)
	}
	results["ship_to"] = lines
	var weights map[string]float64
	if weights, err = tags.Result(ctx, wait); err != nil {
		return fmt.Errorf("tag_items: %w", err)
	}
	results["tag_items"] = weights
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"results": results})
}
