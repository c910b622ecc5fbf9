package sbemu_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/licensefix/licensefix/sbemu"
)

// ExampleNewServer starts an emulator on a free loopback port and sends and
// receives one message through the unmodified azservicebus SDK.
func ExampleNewServer() {
	srv, err := sbemu.NewServer(nil) // one queue, "license-fixed"
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	connStr := srv.ConnectionString()
	fmt.Println(strings.HasPrefix(connStr, "Endpoint=sb://127.0.0.1:"),
		strings.HasSuffix(connStr, ";SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true"))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := azservicebus.NewClientFromConnectionString(connStr, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close(ctx)

	sender, err := client.NewSender(sbemu.DefaultQueueName, nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := sender.SendMessage(ctx, &azservicebus.Message{Body: []byte(`{"userId":"u1"}`)}, nil); err != nil {
		log.Fatal(err)
	}

	receiver, err := client.NewReceiverForQueue(sbemu.DefaultQueueName, nil)
	if err != nil {
		log.Fatal(err)
	}
	msgs, err := receiver.ReceiveMessages(ctx, 1, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range msgs {
		fmt.Println(string(m.Body), "delivery", m.DeliveryCount)
		if err := receiver.CompleteMessage(ctx, m, nil); err != nil {
			log.Fatal(err)
		}
	}
	st, _ := srv.QueueStats(sbemu.DefaultQueueName)
	fmt.Printf("left in queue: %+v\n", st)
	// Output:
	// true true
	// {"userId":"u1"} delivery 1
	// left in queue: {Active:0 Locked:0 Deferred:0 Scheduled:0}
}

// ExampleParseConfig reads a Config.json in the shape Microsoft's emulator uses.
func ExampleParseConfig() {
	cfg, err := sbemu.ParseConfig([]byte(`{
	  "UserConfig": {
	    "Namespaces": [{
	      "Name": "sbemulatorns",
	      "Queues": [{
	        "Name": "license-fixed",
	        "Properties": {"LockDuration": "PT30S", "MaxDeliveryCount": 5, "RequiresSession": false}
	      }]
	    }],
	    "Logging": {"Type": "Console"}
	  }
	}`))
	if err != nil {
		log.Fatal(err)
	}
	q := cfg.UserConfig.Namespaces[0].Queues[0]
	fmt.Println(q.Name, time.Duration(q.Properties.LockDuration), q.Properties.MaxDeliveryCount)

	_, err = sbemu.ParseConfig([]byte(`{"UserConfig":{"Namespaces":[{"Name":"ns","Queues":[{"Name":"q","Properties":{"RequiresSession":true}}]}]}}`))
	fmt.Println(err)
	// Output:
	// license-fixed 30s 5
	// sbemu: config: UserConfig.Namespaces[0].Queues[0].Properties.RequiresSession: sessions are not supported by this emulator
}

// ExampleNewServer_topic sends to a topic and receives the copy a
// subscription's correlation rule selected.
func ExampleNewServer_topic() {
	cfg, err := sbemu.ParseConfig([]byte(`{"UserConfig": {"Namespaces": [{
	  "Name": "sbemulatorns",
	  "Queues": [],
	  "Topics": [{
	    "Name": "orders",
	    "Subscriptions": [
	      {"Name": "everything"},
	      {"Name": "eu", "Rules": [{"Name": "eu-only", "Properties": {
	        "FilterType": "Correlation", "CorrelationFilter": {"Properties": {"region": "eu"}}}}]}
	    ]
	  }]
	}]}}`))
	if err != nil {
		log.Fatal(err)
	}
	srv, err := sbemu.NewServer(&sbemu.Options{Config: cfg})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := azservicebus.NewClientFromConnectionString(srv.ConnectionString(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close(ctx)
	sender, err := client.NewSender("orders", nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, region := range []string{"us", "eu"} {
		msg := &azservicebus.Message{Body: []byte("order from " + region), ApplicationProperties: map[string]any{"region": region}}
		if err := sender.SendMessage(ctx, msg, nil); err != nil {
			log.Fatal(err)
		}
	}
	receiver, err := client.NewReceiverForSubscription("orders", "eu", nil)
	if err != nil {
		log.Fatal(err)
	}
	msgs, err := receiver.ReceiveMessages(ctx, 1, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(msgs[0].Body))
	if err := receiver.CompleteMessage(ctx, msgs[0], nil); err != nil {
		log.Fatal(err)
	}
	st, _ := srv.QueueStats("orders/Subscriptions/everything")
	fmt.Println("everything holds", st.Active)
	// Output:
	// order from eu
	// everything holds 2
}
