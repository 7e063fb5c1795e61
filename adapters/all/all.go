// Package all registers every built-in Herald adapter: import it for its
// side effect when the backend is chosen by configuration at run time.
//
//	import _ "github.com/heraldkit/herald/adapters/all"
package all

import (
	_ "github.com/heraldkit/herald/adapters/embedded" // embedded://
	_ "github.com/heraldkit/herald/adapters/kafka"    // kafka://
	_ "github.com/heraldkit/herald/adapters/memory"   // mem://
	_ "github.com/heraldkit/herald/adapters/nats"     // nats://
	_ "github.com/heraldkit/herald/adapters/rabbitmq" // amqp://, amqps://
)
